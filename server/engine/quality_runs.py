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
from server.engine.leases import utcnow
from server.engine.profiling import STEP_ID as PROFILE_STEP
from server.engine.quality_bodies import OUTCOMES_FILE, PROFILE_FILE, STEP_ID, run_checks, run_profile
from server.engine.sandbox import ChildRun, Limits
from server.models.base import new_id
from server.models.datasets import Dataset
from server.models.quality import DatasetProfile, QualityResult, QualityRule

log = logging.getLogger("docc.engine")

QUALITY_TOPIC = "quality"  # created, cancel
MAX_OUTCOMES_BYTES = 8 << 20
# What the domain does once a run or a profile (told apart by its id's prefix) has landed.
Settled = Callable[[str], Awaitable[None]]
Claimable = QualityResult | DatasetProfile
Compute = Callable[[str, threading.Event], Awaitable[dict[str, Any]]]


def result_topic(result_id: str) -> str:
    """The topic on which one result announces that it finished."""
    return f"quality_result:{result_id}"


def rule_topic(rule_id: str) -> str:
    """The topic on which every finished result of one rule is announced."""
    return f"quality_rule:{rule_id}"


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def read_outcome(temp_dir: str, key: str) -> dict[str, Any] | None:
    """The child's outcome for `key`, checked field by field (the child is not trusted); None if absent or bad."""
    path = os.path.join(temp_dir, OUTCOMES_FILE)
    try:
        if os.path.getsize(path) > MAX_OUTCOMES_BYTES:
            return None
        with open(path, "rb") as handle:
            outcomes = orjson.loads(handle.read())
    except (OSError, orjson.JSONDecodeError):
        return None
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
    path = os.path.join(temp_dir, PROFILE_FILE)
    try:
        if os.path.getsize(path) > MAX_OUTCOMES_BYTES:
            return bad
        with open(path, "rb") as handle:
            profile = orjson.loads(handle.read())
    except (OSError, orjson.JSONDecodeError):
        return bad
    if not isinstance(profile, dict):
        return bad
    if isinstance(profile.get("error"), str):
        return {"status": "failed", "error": profile["error"][:8_000]}
    columns = profile.get("columns")
    if _count(profile.get("row_count")) is None or not isinstance(columns, list) \
            or not all(isinstance(c, dict) and isinstance(c.get("name"), str) for c in columns):
        return bad
    return {"status": "succeeded", "row_count": profile["row_count"], "columns": columns[:2_000]}


async def build_plan(result: QualityResult, rule: QualityRule, policy: Policy, memory_mb: int,
                     temp_dir: str) -> JobPlan:
    """The run's plan: the dataset's source (and a referenced one's), the check, the sensitive columns."""
    dataset = await Dataset.get(id=result.dataset_id)
    datasets = {dataset.id: (dataset.source, {"fields": dataset.schema_fields})}
    ref = rule.config.get("dataset_id") if rule.rule_type == "referential" else None
    if isinstance(ref, str):
        other = await Dataset.get_or_none(id=ref, workspace_id=rule.workspace_id)
        if other is not None:  # Gone since the rule was saved: the engine reports the error.
            datasets[other.id] = (other.source, {"fields": other.schema_fields})
    check = {"key": rule.id, "rule_type": rule.rule_type, "config": rule.config,
             "threshold": result.threshold, "severity": result.severity}
    sensitive = [f["name"] for f in dataset.schema_fields if f.get("sensitive")]
    step = {"id": STEP_ID, "type": STEP_ID,
            "config": {"dataset_id": dataset.id, "checks": [check], "sensitive": sensitive}}
    return JobPlan(job_id=result.id, steps=[step], datasets=datasets, policy=policy, memory_mb=memory_mb,
                   temp_dir=temp_dir)


class QualityRunner:
    """Claims unclaimed quality runs and evaluates them in job processes, up to the job capacity at once."""

    def __init__(self, settings: Settings, owner: str, bus: EventBus, policy: Policy, on_settled: Settled) -> None:
        self.settings, self.owner, self.bus, self.policy, self.on_settled = settings, owner, bus, policy, on_settled
        self.limits = Limits(settings.job_memory_mb, settings.job_timeout_seconds, settings.job_cancel_grace_seconds)
        self.capacity = max(settings.max_concurrent_jobs, 1)
        self.cancels: dict[str, threading.Event] = {}
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
        for cancel in self.cancels.values():
            cancel.set()
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
            elif event.kind == "cancel" and (cancel := self.cancels.get(
                    str(event.data.get("result_id") or event.data.get("profile_id")))):
                cancel.set()

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.fill()
            except Exception:
                log.exception("Claiming quality runs failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.job_poll_seconds)

    async def fill(self) -> None:
        """Claim and start runs (checks first, then profiles) while there is room: unclaimed ones, and
        ones whose claimer stopped renewing its lease (its process died)."""
        for model, compute in ((QualityResult, self._evaluate), (DatasetProfile, self._compute_profile)):
            while len(self._tasks) < self.capacity:
                claimable = Q(runner=None) | Q(lease_expires_at__lt=utcnow())
                waiting = await model.filter(claimable, status="running").order_by("created_at") \
                    .limit(1).values_list("id", flat=True)
                if not waiting:
                    break
                if await model.filter(claimable, id=waiting[0], status="running").update(
                        runner=self.owner, lease_expires_at=self._lease_end()):
                    task = asyncio.create_task(self._run(model, waiting[0], compute))
                    self._tasks.add(task)
                    task.add_done_callback(self._done)

    def _lease_end(self) -> datetime:
        return utcnow() + timedelta(seconds=self.settings.job_lease_seconds)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._wake.set()

    async def _run(self, model: type[Claimable], object_id: str, compute: Compute) -> None:
        """Compute one claimed run, write its outcome if this process still holds it, let the domain follow."""
        cancel = self.cancels[object_id] = threading.Event()
        watcher = asyncio.create_task(self._watch(model, object_id, cancel))
        try:
            values = await compute(object_id, cancel)
        except Exception:
            log.exception("Quality run %s failed unexpectedly", object_id)
            values = {"status": "error" if model is QualityResult else "failed",
                      "error": "internal error while running the check"}
        finally:
            self.cancels.pop(object_id, None)
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        row = await model.get_or_none(id=object_id)
        if row is None:  # Deleted with its rule or dataset meanwhile.
            return
        finished = utcnow()
        values.update(finished_at=finished, duration_s=round((finished - row.started_at).total_seconds(), 6),
                      lease_expires_at=None)
        if not await model.filter(id=object_id, status="running", runner=self.owner).update(**values):
            return  # Another process took it over (our lease lapsed) or it was settled already.
        try:
            with binding(self.bus):  # The domain publishes the notices on this engine's bus.
                await self.on_settled(object_id)
        except Exception:
            log.exception("Settling quality run %s failed", object_id)

    async def _evaluate(self, result_id: str, cancel: threading.Event) -> dict[str, Any]:
        result = await QualityResult.get(id=result_id)
        rule = await QualityRule.get(id=result.rule_id)  # type: ignore[attr-defined]
        if result.cancel_requested:  # Asked before this process claimed it (or before its claimer died).
            return {"status": "cancelled"}
        temp_dir = tempfile.mkdtemp(prefix="docc-quality-")
        try:
            plan = await build_plan(result, rule, self.policy, self.limits.memory_mb, temp_dir)
            ended = await ChildRun(plan, self.limits, lambda *_event: None, cancel, run_checks).run()
            if ended.status == "cancelled":
                return {"status": "cancelled"}
            if ended.status != "succeeded":
                return {"status": "error", "error": ended.error}
            outcome = read_outcome(temp_dir, rule.id)
            if outcome is None:
                return {"status": "error", "error": "the check's process gave no valid outcome"}
            return outcome
        finally:
            shutil.rmtree(temp_dir, ignore_errors=True)

    async def _compute_profile(self, profile_id: str, cancel: threading.Event) -> dict[str, Any]:
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

    async def _watch(self, model: type[Claimable], object_id: str, cancel: threading.Event) -> None:
        """Renew the lease (a third of its length) and poll for a cancel asked in another process."""
        renew_every, since_renewal = self.settings.job_lease_seconds / 3, 0.0
        tick = min(self.settings.job_poll_seconds, 0.5)
        while not cancel.is_set():
            await asyncio.sleep(tick)
            since_renewal += tick
            if since_renewal >= renew_every:
                since_renewal = 0.0
                if not await model.filter(id=object_id, runner=self.owner, status="running").update(
                        lease_expires_at=self._lease_end()):
                    cancel.set()  # Taken over or settled elsewhere: stop the work, write nothing.
                    return
            if await model.filter(id=object_id, cancel_requested=True).exists():
                cancel.set()


async def record_step_outcome(job_id: str, workspace_id: str, created_by: str, check: dict[str, Any],
                              outcome: Any, started_at: datetime, finished_at: datetime) -> str | None:
    """Store the outcome of a saved rule run by a pipeline's quality_check step as a result of the rule
    (trigger `pipeline`, with the job's id); `check` is what expand_quality_steps noted for it. Returns the
    result's id, or None when the rule is gone or the outcome is not one."""
    values = checked_outcome(outcome)
    if values is None:
        return None
    rule = await QualityRule.get_or_none(id=check["rule_id"], workspace_id=workspace_id)
    if rule is None:
        return None
    dataset = await Dataset.get_or_none(id=rule.dataset_id)  # type: ignore[attr-defined]
    if dataset is None:
        return None
    threshold = check.get("threshold")
    row = await QualityResult.create(
        id=new_id("qres"), workspace_id=workspace_id, rule_id=rule.id, dataset_id=dataset.id,
        rule_version=check["rule_version"], schema_version=dataset.schema_version, severity=check["severity"],
        threshold=float(threshold) if isinstance(threshold, int | float) and not isinstance(threshold, bool) else 1.0,
        started_at=started_at, finished_at=finished_at,
        duration_s=round(max((finished_at - started_at).total_seconds(), 0.0), 6), trigger="pipeline",
        created_by=created_by, job_id=job_id, **values)
    return row.id


async def expand_quality_steps(workspace_id: str, steps: list[dict[str, Any]],
                               saved: dict[tuple[str, int], dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The steps with each quality_check `{"rules": [...]}` replaced by the rules' current definitions as
    inline checks (ids as keys), so the job's process needs nothing from the database. A rule deleted since
    the pipeline was saved stays as a `missing` check: the step fails on it.

    `saved`, when given, is filled with (step id, index of the check) -> {rule_id, rule_version, threshold,
    severity} of each saved rule: what the parent needs to store the outcome the child reports for it, known
    here and never taken from the child."""
    expanded = []
    for step in steps:
        config = (step.get("config") or {}) if isinstance(step, dict) else {}
        if not isinstance(step, dict) or step.get("type") != "quality_check" or "rules" not in config:
            expanded.append(step)
            continue
        rows = {row.id: row for row in await QualityRule.filter(workspace_id=workspace_id,
                                                                 id__in=[str(r) for r in config["rules"]])}
        checks = [{"key": row.id, "rule_type": row.rule_type, "config": row.config, "severity": row.severity}
                  if (row := rows.get(rule_id)) is not None else {"key": rule_id, "missing": True, "severity": "error"}
                  for rule_id in config["rules"]]
        if saved is not None:
            for index, rule_id in enumerate(config["rules"]):
                if (row := rows.get(rule_id)) is not None:
                    saved[(str(step.get("id")), index)] = {
                        "rule_id": row.id, "rule_version": row.version, "severity": row.severity,
                        "threshold": (row.config or {}).get("threshold")}
        expanded.append({**step, "config": {"checks": checks}})
    return expanded
