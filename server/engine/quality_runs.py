"""Quality runs in the job workers: claim a stored run, evaluate it in a job process, record its outcome.

A run is a `QualityResult` in status `running` that no process has claimed. The runner of any process that
runs jobs claims it with a conditional update (one winner across processes), evaluates the rule's checks in
a child process forked like a pipeline job's (same memory, time and cancel limits, never on the event loop),
and writes the outcome onto the result. What the domain derives from a landed result (the dataset's score,
the rule's latest status, the notices) is done by the `on_settled` callback the app hands in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import orjson
from tortoise.expressions import Q

from server.config import Settings
from server.engine.bus import EventBus, Subscription, binding
from server.engine.child import JobPlan
from server.engine.dataplane import Policy
from server.engine.leases import keep_claiming, utcnow
from server.engine.quality_bodies import OUTCOMES_FILE, PROFILE_FILE, PROFILE_STEP, STEP_ID, run_checks, run_profile
from server.engine.sandbox import ChildRun, Limits
from server.models.datasets import Dataset
from server.models.quality import DatasetProfile, QualityResult, QualityRule

log = logging.getLogger("docc.engine")

QUALITY_TOPIC = "quality"  # created, cancel
MAX_OUTCOMES_BYTES = 8 << 20
# What the domain does once a run or a profile (told apart by its id's prefix) has landed.
Settled = Callable[[str], Awaitable[None]]
Claimable = QualityResult | DatasetProfile
# Evaluates claimed runs (given their ids and the event that stops their process): each one's outcome.
Compute = Callable[[list[str], threading.Event], Awaitable[dict[str, dict[str, Any]]]]
MAX_BATCH = 50


def result_topic(result_id: str) -> str:
    """The topic on which one result announces that it finished."""
    return f"quality_result:{result_id}"


def rule_topic(rule_id: str) -> str:
    """The topic on which every finished result of one rule is announced."""
    return f"quality_rule:{rule_id}"


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _read_json(path: str) -> Any:
    """The JSON document a job's process left at `path`; None when it is absent, too large or not JSON."""
    try:
        if os.path.getsize(path) > MAX_OUTCOMES_BYTES:
            return None
        with open(path, "rb") as handle:
            return orjson.loads(handle.read())
    except (OSError, orjson.JSONDecodeError):
        return None


def read_outcome(temp_dir: str, key: str) -> dict[str, Any] | None:
    """The child's outcome for `key`, checked field by field (the child is not trusted); None if absent or bad."""
    outcomes = _read_json(os.path.join(temp_dir, OUTCOMES_FILE))
    found = next((o for o in outcomes if isinstance(o, dict) and o.get("key") == key), None) \
        if isinstance(outcomes, list) else None
    return checked_outcome(found)


def checked_outcome(found: Any) -> dict[str, Any] | None:
    """A check's outcome as sent by a job's process, checked field by field (the child is not trusted), as
    the columns of a result; None when it is not an outcome."""
    if not isinstance(found, dict) or found.get("status") not in ("passed", "failed", "error"):
        return None
    ratio = found.get("pass_ratio")
    sample = found.get("sample")
    return {
        "status": found["status"], "rows_checked": _count(found.get("rows_checked")),
        "rows_failed": _count(found.get("rows_failed")), "nulls": _count(found.get("nulls")),
        "pass_ratio": float(ratio) if isinstance(ratio, int | float) and not isinstance(ratio, bool) else None,
        "observed": found.get("observed"),
        "sample": [row for row in sample if isinstance(row, dict)][:20] if isinstance(sample, list) else [],
        "error": str(found["error"])[:8_000] if found.get("error") is not None else None,
    }


def read_profile(temp_dir: str) -> dict[str, Any]:
    """The child's profile, checked (the child is not trusted), as the columns of the profile row."""
    bad = {"status": "failed", "error": "the profiling process gave no valid profile"}
    profile = _read_json(os.path.join(temp_dir, PROFILE_FILE))
    if not isinstance(profile, dict):
        return bad
    if isinstance(profile.get("error"), str):
        return {"status": "failed", "error": profile["error"][:8_000]}
    columns = profile.get("columns")
    if _count(profile.get("row_count")) is None or not isinstance(columns, list) \
            or not all(isinstance(c, dict) and isinstance(c.get("name"), str) for c in columns):
        return bad
    return {"status": "succeeded", "row_count": profile["row_count"], "columns": columns[:2_000]}


async def build_plan(results: list[QualityResult], rules: dict[str, QualityRule], policy: Policy,
                     memory_mb: int, temp_dir: str) -> JobPlan:
    """The plan of runs on one dataset: its source (and those referenced), one check per run (keyed by the
    result's id), the sensitive columns."""
    dataset = await Dataset.get(id=results[0].dataset_id)
    datasets = {dataset.id: (dataset.source, {"fields": dataset.schema_fields})}
    checks = []
    for result in results:
        rule = rules[result.rule_id]  # type: ignore[attr-defined]
        ref = rule.config.get("dataset_id") if rule.rule_type == "referential" else None
        if isinstance(ref, str) and ref not in datasets:
            other = await Dataset.get_or_none(id=ref, workspace_id=rule.workspace_id)
            if other is not None:  # Gone since the rule was saved: the engine reports the error.
                datasets[other.id] = (other.source, {"fields": other.schema_fields})
        checks.append({"key": result.id, "rule_type": rule.rule_type, "config": rule.config,
                       "threshold": result.threshold, "severity": result.severity})
    sensitive = [f["name"] for f in dataset.schema_fields if f.get("sensitive")]
    step = {"id": STEP_ID, "type": STEP_ID,
            "config": {"dataset_id": dataset.id, "checks": checks, "sensitive": sensitive}}
    return JobPlan(job_id=results[0].id, steps=[step], datasets=datasets, policy=policy, memory_mb=memory_mb,
                   temp_dir=temp_dir)


class Batch:
    """Runs evaluated together in one job process: each can be cancelled; the process stops once all are."""

    def __init__(self, ids: list[str]) -> None:
        self.members = {object_id: threading.Event() for object_id in ids}
        self.process = threading.Event()

    def cancel(self, object_id: str) -> None:
        if object_id in self.members:
            self.members[object_id].set()
        if all(event.is_set() for event in self.members.values()):
            self.process.set()


class QualityRunner:
    """Claims unclaimed quality runs and evaluates them in job processes, up to the job capacity at once."""

    def __init__(self, settings: Settings, owner: str, bus: EventBus, policy: Policy, on_settled: Settled) -> None:
        self.settings, self.owner, self.bus, self.policy, self.on_settled = settings, owner, bus, policy, on_settled
        self.limits = Limits(settings.job_memory_mb, settings.job_timeout_seconds, settings.job_cancel_grace_seconds)
        self.capacity = max(settings.max_concurrent_jobs, 1)
        self.batches: dict[str, Batch] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._background: list[asyncio.Task[None]] = []
        self._subscription: Subscription | None = None

    async def start(self) -> None:
        self._subscription = self.bus.subscribe(QUALITY_TOPIC)
        self._background = [asyncio.create_task(self._loop()), asyncio.create_task(self._listen())]

    async def stop(self) -> None:
        for task in self._background:
            task.cancel()
        for task in self._background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for batch in self.batches.values():
            batch.process.set()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=self.limits.cancel_grace_seconds + 5)
        if self._subscription is not None:
            self._subscription.close()

    async def _listen(self) -> None:
        assert self._subscription is not None
        while True:
            event = await self._subscription.get()
            if event is None or event.kind == "created":
                self._wake.set()
            elif event.kind == "cancel":
                object_id = str(event.data.get("result_id") or event.data.get("profile_id"))
                if (batch := self.batches.get(object_id)) is not None:
                    batch.cancel(object_id)

    async def _loop(self) -> None:
        await keep_claiming(self.fill, self._wake, self.settings.job_poll_seconds, "quality runs")

    async def fill(self) -> None:
        """Claim and start runs (checks first, then profiles) while there is room: unclaimed ones, and
        ones whose claimer stopped renewing its lease (its process died). Scheduled checks due on the
        same dataset are claimed with the first as one batch, evaluated in one job process."""
        for model, compute in ((QualityResult, self._evaluate), (DatasetProfile, self._compute_profile)):
            while len(self._tasks) < self.capacity:
                waiting = await model.filter(self._claimable(), status="running").order_by("created_at") \
                    .limit(1).values_list("id", flat=True)
                if not waiting:
                    break
                if await model.filter(self._claimable(), id=waiting[0], status="running").update(
                        runner=self.owner, lease_expires_at=self._lease_end()):
                    ids = [waiting[0], *await self._batch_mates(waiting[0])] if model is QualityResult \
                        else [waiting[0]]
                    task = asyncio.create_task(self._run(model, ids, compute))
                    self._tasks.add(task)
                    task.add_done_callback(self._done)

    @staticmethod
    def _claimable() -> Q:
        return Q(runner=None) | Q(lease_expires_at__lt=utcnow())

    async def _batch_mates(self, first_id: str) -> list[str]:
        """Claim the other scheduled checks due on the dataset of a scheduled check just claimed."""
        first = await QualityResult.get_or_none(id=first_id)
        if first is None or first.trigger != "schedule":
            return []
        candidates = await QualityResult.filter(self._claimable(), status="running", trigger="schedule",
                                                dataset_id=first.dataset_id).exclude(id=first_id) \
            .order_by("created_at").limit(MAX_BATCH - 1).values_list("id", flat=True)
        mates = []
        for candidate in candidates:  # One conditional update each: another process may claim some first.
            if await QualityResult.filter(self._claimable(), id=candidate, status="running").update(
                    runner=self.owner, lease_expires_at=self._lease_end()):
                mates.append(candidate)
        return mates

    def _lease_end(self) -> datetime:
        return utcnow() + timedelta(seconds=self.settings.job_lease_seconds)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._wake.set()

    async def _run(self, model: type[Claimable], ids: list[str], compute: Compute) -> None:
        """Compute claimed runs, write the outcome of each this process still holds, let the domain follow."""
        batch = Batch(ids)
        for object_id in ids:
            self.batches[object_id] = batch
        watcher = asyncio.create_task(self._watch(model, ids, batch))
        try:
            outcomes = await compute(ids, batch.process)
        except Exception:
            log.exception("Quality runs %s failed unexpectedly", ", ".join(ids))
            outcomes = {object_id: {"status": "error" if model is QualityResult else "failed",
                                    "error": "internal error while running the check"} for object_id in ids}
        finally:
            for object_id in ids:
                self.batches.pop(object_id, None)
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        for object_id in ids:
            values = {"status": "cancelled"} if batch.members[object_id].is_set() else outcomes[object_id]
            await self._settle(model, object_id, values)

    async def _settle(self, model: type[Claimable], object_id: str, values: dict[str, Any]) -> None:
        row = await model.get_or_none(id=object_id)
        if row is None:  # Deleted with its rule or dataset meanwhile.
            return
        finished = utcnow()
        values = {**values, "finished_at": finished, "lease_expires_at": None,
                  "duration_s": round((finished - row.started_at).total_seconds(), 6)}
        if not await model.filter(id=object_id, status="running", runner=self.owner).update(**values):
            return  # Another process took it over (our lease lapsed) or it was settled already.
        try:
            with binding(self.bus):  # The domain publishes the notices on this engine's bus.
                await self.on_settled(object_id)
        except Exception:
            log.exception("Settling quality run %s failed", object_id)

    async def _evaluate(self, ids: list[str], cancel: threading.Event) -> dict[str, dict[str, Any]]:
        results = await QualityResult.filter(id__in=ids).order_by("created_at", "id")
        rules = {rule.id: rule for rule in await QualityRule.filter(id__in=[r.rule_id for r in results])}  # type: ignore[attr-defined]
        gone = {"status": "error", "error": "the rule or its dataset was deleted"}
        outcomes: dict[str, dict[str, Any]] = {object_id: gone for object_id in ids}
        # Cancels asked before this process claimed them (or before their claimer died).
        outcomes.update({r.id: {"status": "cancelled"} for r in results if r.cancel_requested})
        live = [r for r in results if not r.cancel_requested and r.rule_id in rules]  # type: ignore[attr-defined]
        if not live:
            return outcomes
        temp_dir = tempfile.mkdtemp(prefix="docc-quality-")
        try:
            plan = await build_plan(live, rules, self.policy, self.limits.memory_mb, temp_dir)
            ended = await ChildRun(plan, self.limits, lambda *_event: None, cancel, run_checks).run()
            for result in live:
                if ended.status == "cancelled":
                    outcomes[result.id] = {"status": "cancelled"}
                elif ended.status != "succeeded":
                    outcomes[result.id] = {"status": "error", "error": ended.error}
                else:
                    outcomes[result.id] = read_outcome(temp_dir, result.id) or {
                        "status": "error", "error": "the check's process gave no valid outcome"}
            return outcomes
        finally:
            shutil.rmtree(temp_dir, ignore_errors=True)

    async def _compute_profile(self, ids: list[str], cancel: threading.Event) -> dict[str, dict[str, Any]]:
        return {ids[0]: await self._profile(ids[0], cancel)}

    async def _profile(self, profile_id: str, cancel: threading.Event) -> dict[str, Any]:
        row = await DatasetProfile.get(id=profile_id)
        if row.cancel_requested:  # Asked before this process claimed it (or before its claimer died).
            return {"status": "cancelled"}
        dataset = await Dataset.get(id=row.dataset_id)  # type: ignore[attr-defined]
        temp_dir = tempfile.mkdtemp(prefix="docc-profile-")
        try:
            step = {"id": PROFILE_STEP, "type": PROFILE_STEP, "config": {"dataset_id": dataset.id}}
            plan = JobPlan(job_id=profile_id, steps=[step],
                           datasets={dataset.id: (dataset.source, {"fields": dataset.schema_fields})},
                           policy=self.policy, memory_mb=self.limits.memory_mb, temp_dir=temp_dir)
            ended = await ChildRun(plan, self.limits, lambda *_event: None, cancel, run_profile).run()
            if ended.status != "succeeded":
                return {"status": "cancelled" if ended.status == "cancelled" else "failed", "error": ended.error}
            return read_profile(temp_dir)
        finally:
            shutil.rmtree(temp_dir, ignore_errors=True)

    async def _watch(self, model: type[Claimable], ids: list[str], batch: Batch) -> None:
        """Renew the lease (a third of its length) and poll for cancels asked in another process."""
        renew_every, since_renewal = self.settings.job_lease_seconds / 3, 0.0
        tick = min(self.settings.job_poll_seconds, 0.5)
        while not batch.process.is_set():
            await asyncio.sleep(tick)
            since_renewal += tick
            if since_renewal >= renew_every:
                since_renewal = 0.0
                if not await model.filter(id__in=ids, runner=self.owner, status="running").update(
                        lease_expires_at=self._lease_end()):
                    batch.process.set()  # Taken over or settled elsewhere: stop the work, write nothing.
                    return
            for object_id in await model.filter(id__in=ids, cancel_requested=True).values_list("id", flat=True):
                batch.cancel(object_id)
