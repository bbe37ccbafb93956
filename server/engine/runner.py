"""One claimed job: its data steps run in a child process while the loop journals its messages in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
import threading
from collections.abc import Mapping
from typing import Any

from server.config import Settings
from server.engine import staging, writers
from server.engine.bus import EventBus, binding
from server.engine.child import Body, JobPlan
from server.engine.dataplane import MappingResolver, Policy, StepStats, referenced_dataset_ids
from server.engine.dataplane.gate_config import reference_ids
from server.engine.journal import LEVELS, Journal, LeaseLost, reset_steps
from server.engine.leases import Claim, release, renew, utcnow
from server.engine.quality_runs import Settled
from server.engine.quality_steps import expand_quality_steps, record_step_outcome
from server.engine.run_controls import RunControls
from server.engine.sandbox import ChildRun, Limits, Outcome
from server.models.datasets import Dataset
from server.models.engine import Job, JobStep, Pipeline

log = logging.getLogger("docc.engine")

TEMP_PREFIX = "docc-job-"


def connection_names(steps: list[dict[str, Any]]) -> set[str]:
    """The named connections the steps write to (`destination: "<name>.<table>"`)."""
    names = set()
    for step in steps:
        destination = (step.get("config") or {}).get("destination") if isinstance(step, dict) else None
        if isinstance(destination, str) and "." in destination:
            names.add(destination.split(".", 1)[0])
    return names


async def build_resolver(job: Job, connections: Mapping[str, str],
                         steps: list[dict[str, Any]] | None = None) -> MappingResolver:
    """The datasets of the job's workspace that its steps name (sources decrypted), and the connections given.

    `steps` are the job's steps with saved quality rules expanded: the datasets their `referential`
    checks read are resolved too, in the job's workspace only (another workspace's does not exist here).
    """
    steps = job.steps if steps is None else steps
    ids = [*referenced_dataset_ids(steps), *reference_ids(steps)]
    rows = await Dataset.filter(workspace_id=job.workspace_id, id__in=ids)
    return MappingResolver({row.id: (row.source, {"fields": row.schema_fields}) for row in rows},
                           dict(connections))


async def build_plan(job: Job, connections: Mapping[str, str], policy: Policy, memory_mb: int,
                     temp_dir: str, saved: dict[tuple[str, int], dict[str, Any]] | None = None) -> JobPlan:
    """Everything the job's process needs, resolved here: it never sees the server's database. `saved` gets
    the saved quality rules of quality_check steps, by (step id, check index)."""
    needed = {name: connections[name] for name in connection_names(job.steps) if name in connections}
    # Saved quality rules named by quality_check steps travel as their current definitions.
    steps = await expand_quality_steps(job.workspace_id, job.steps, saved)
    resolver = await build_resolver(job, needed, steps)
    return JobPlan(job_id=job.id, steps=steps, datasets=resolver.datasets, connections=resolver.connections,
                   policy=policy, memory_mb=memory_mb, temp_dir=temp_dir, job_key=staging.job_key(job))


def job_temp_dir(job_id: str) -> str:
    """A private folder for one run of a job (spills, the process's stderr), named so a sweep knows whose."""
    return tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{job_id}-")


def _step_status(stats: StepStats) -> str:
    if stats.error is None:
        return "succeeded"
    return "cancelled" if stats.error == "cancelled" else "failed"


def delivered_by(steps: list[dict[str, Any]]) -> dict[str, str]:
    """For each sink, the step whose rows it writes: sinks pass their input on, so two sinks in a row
    deliver the same rows, and count once in the job's total."""
    ids = [s.get("id") for s in steps if isinstance(s, dict)]
    kinds = {s["id"]: s.get("type") for s in steps if isinstance(s, dict) and "id" in s}
    inputs: dict[str, str | None] = {}
    for i, step in enumerate(steps):
        deps = step.get("depends_on")
        inputs[step["id"]] = deps[0] if deps else (ids[i - 1] if i and deps is None else None)
    producers = {}
    for sid, kind in kinds.items():
        if kind != "data_sink":
            continue
        current = inputs.get(sid)
        while current is not None and kinds.get(current) == "data_sink":
            current = inputs.get(current)
        producers[sid] = current or sid
    return producers


async def statistics(job: Job, published: bool = True) -> dict[str, Any]:
    """Totals of a finished job from its step records.

    `rows_written` counts unique rows delivered: sinks that write the same upstream rows count them once;
    `rows_written_by_sink` has each sink's own figure. Both are 0 unless the job published its writes
    (`published`): a failed or cancelled job's staged rows were discarded.
    """
    steps = await JobStep.filter(job_id=job.id)
    counts: dict[str, int] = {}
    for step in steps:
        counts[step.status] = counts.get(step.status, 0) + 1
    by_sink = {s.step_id: (s.rows_in or 0) if published else 0 for s in steps if s.type == "data_sink"}
    producers = delivered_by(job.steps)
    unique: dict[str, int] = {}
    for sink, rows in by_sink.items():
        producer = producers.get(sink, sink)
        unique[producer] = max(unique.get(producer, 0), rows)
    return {
        "rows_read": sum(s.rows_out or 0 for s in steps if s.type == "data_source"),
        "rows_written": sum(unique.values()),
        "rows_written_by_sink": by_sink,
        "steps_total": len(steps),
        "steps_by_status": counts,
        "duration_s": round((utcnow() - job.started_at).total_seconds(), 3) if job.started_at else None,
    }


class JobRun:
    """Runs one claimed job to its end, renewing the lease and watching for a cancel request."""

    def __init__(self, claim: Claim, owner: str, settings: Settings, policy: Policy,
                 body: Body | None = None, bus: EventBus | None = None,
                 on_quality_result: Settled | None = None) -> None:
        self.job, self.token, self.takeover = claim.job, claim.token, claim.takeover
        self.owner, self.connections, self.policy = owner, settings.connections, policy
        self.lease_seconds, self.poll_seconds = settings.job_lease_seconds, settings.job_poll_seconds
        self.log_level = LEVELS.get(settings.job_log_level, LEVELS["info"])
        self.limits = Limits(settings.job_memory_mb, settings.job_timeout_seconds,
                             settings.job_cancel_grace_seconds)
        self.body = body
        self.cancel = threading.Event()
        self.shutdown = False
        self.lost = False
        self.journal = Journal(self.job.id, self.token, bus)
        self.child: ChildRun | None = None
        # What the domain does once a saved rule's result (from a quality_check step) is stored.
        self.on_quality_result = on_quality_result
        self.step_started: dict[str, Any] = {}
        self.saved_rules: dict[tuple[str, int], dict[str, Any]] = {}
        # The pipeline's run controls, as they were when the job was made.
        self.controls = RunControls(self.journal, self.job.controls)

    def kill(self) -> None:
        """Stop the job's process now (the server is stopping and the grace period is over)."""
        if self.child is not None:
            self.child.kill("stop")

    async def run(self) -> None:
        """Run and settle the job; never raises for the job's own failures."""
        try:
            await self._run()
        except LeaseLost:
            self.lost = True
            log.warning("Lost the lease of job %s; another process holds it", self.job.id,
                        extra={"job_id": self.job.id})
        except Exception:
            log.exception("Running job %s failed unexpectedly", self.job.id, extra={"job_id": self.job.id})
            with contextlib.suppress(Exception):
                await self._settle("failed", "internal error while running the job")

    async def _run(self) -> None:
        temp_dir = job_temp_dir(self.job.id)
        await self._pipeline_log_level()
        try:
            plan = await build_plan(self.job, self.connections, self.policy, self.limits.memory_mb, temp_dir,
                                    self.saved_rules)
            if await self._finish_earlier(plan):
                return
            if self.takeover:
                await reset_steps(self.job.id)
                await self.journal.log("warning", None, f"lease expired; taken over by {self.owner}")
            attempt = await self.controls.begin()
            await self.journal.log("info", None, f"job started by {self.owner} (attempt {attempt}"
                                                 f"{self.controls.of_attempts()})")
            await self.journal.update_job(progress=0.0)
            if await self.controls.wait_for_writers(plan, self.token, self.lease_seconds, self.poll_seconds,
                                                    self._cancelled):
                await staging.register(self.job, plan.job_key)
                ended = await self._run_child(plan)
                if self.lost:
                    raise LeaseLost(self.job.id)
                ended = await self._finish_left(plan, ended)
            else:
                ended = Outcome("cancelled")
        finally:
            shutil.rmtree(temp_dir, ignore_errors=True)
        outcome, error = ended.status, ended.error
        if outcome == "cancelled" and self.shutdown and not await self._cancel_requested():
            await self.journal.log("warning", None, "the process is stopping; job returned to the queue")
            await writers.release(self.job.id)
            await release(self.job.id, self.token)
            return
        await self._settle(outcome, error)

    async def _pipeline_log_level(self) -> None:
        """The pipeline's own log level, when it has one, overrides the server's DOCC_JOB_LOG_LEVEL."""
        level = await Pipeline.filter(id=self.job.pipeline_id).first().values_list(  # type: ignore[attr-defined]
            "log_level", flat=True)
        if level in LEVELS:
            self.log_level = LEVELS[level]
        self.journal.min_level = self.log_level

    async def _run_child(self, plan: JobPlan) -> Outcome:
        """Run the job's process, journaling its messages in order; returns how it ended."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[Any, ...] | None] = asyncio.Queue()

        def put(*item: Any) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, (*item, utcnow()))

        writer = asyncio.create_task(self._write(queue))
        watcher = asyncio.create_task(self._watch())
        try:
            self.child = ChildRun(plan, self.limits, put, self.cancel, self.body)
            return await self.child.run()
        finally:
            queue.put_nowait(None)
            await writer
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    async def _finish_earlier(self, plan: JobPlan) -> bool:
        """Before a run: finish what an earlier process of this job left; True when that completed the job."""
        rows = await staging.leftovers(self.job.id)
        if not rows:
            return False
        decided = any(row.state == "publishing" for row in rows)
        await self.journal.log("warning", None, "an earlier process of this job ended " + (
            "while publishing; publishing the rest" if decided else "before publishing; removing what it staged"))
        outcome = await staging.finish(plan, rows, self.limits, self.journal)
        if await staging.leftovers(self.job.id):
            # Nothing new may be staged beside an unfinished plan: the job fails and a sweep retries.
            error = outcome.error or "finishing the staged writes of an earlier process failed"
            await self._settle("failed", f"{error}; a sweep retries")
            return True
        if decided:
            await self._settle("succeeded", None)
            return True
        return False

    async def _finish_left(self, plan: JobPlan, ended: Outcome) -> Outcome:
        """After a run: publish or remove what the process left (it died, or publishing failed midway)."""
        rows = await staging.leftovers(self.job.id)
        if not rows:
            return ended
        decided = any(row.state == "publishing" for row in rows)
        recovered = await staging.finish(plan, rows, self.limits, self.journal)
        left = await staging.leftovers(self.job.id)
        if not decided:
            if left:
                await self.journal.log("warning", None, "removing the staged writes failed; a sweep retries")
            return ended
        if left:
            return Outcome("failed", f"publishing did not complete ({recovered.error or ended.error}); "
                                     "a sweep retries")
        if ended.status != "succeeded":
            await self.journal.log("warning", None, f"the job's process ended while publishing ({ended.error}); "
                                                    "the rest was published")
        return Outcome("succeeded")

    async def _settle(self, outcome: str, error: str | None) -> None:
        outcome, error = await self.controls.outcome(outcome, error, self._cancel_requested)
        await writers.release(self.job.id)
        await self.controls.end_attempt(outcome, error)
        delay = self.controls.retry_delay(outcome, stopping=self.lost or self.shutdown)
        if delay is not None:
            await self.controls.retry(outcome, error, delay)
            return
        await self.journal.close_open_steps("failed" if outcome == "failed" else "cancelled",
                                            "cancelled" if outcome == "cancelled" else error)
        job = await Job.get(id=self.job.id)
        stats = await statistics(job, outcome == "succeeded")
        if outcome == "succeeded":
            await self.journal.log("info", None, f"job succeeded: {stats['rows_read']} rows read, "
                                                 f"{stats['rows_written']} rows written")
        elif outcome == "cancelled":
            await self.journal.log("warning", None, "job cancelled; no destination was changed")
        elif outcome == "timed_out":
            await self.journal.log("error", None, f"job {error}; no destination was changed")
        else:
            await self.journal.log("error", None, f"job failed: {error}")
        values: dict[str, Any] = {"status": outcome, "finished_at": utcnow(), "error": error,
                                  "statistics": stats, "lease_expires_at": None}
        if outcome == "succeeded":
            values["progress"] = 1.0
        await self.journal.update_job(**values)

    async def _cancel_requested(self) -> bool:
        return await Job.filter(id=self.job.id, cancel_requested=True).exists()

    async def _cancelled(self) -> bool:
        """Cancelled in this process, or asked to be from any."""
        return self.cancel.is_set() or await self._cancel_requested()

    async def _write(self, queue: asyncio.Queue[tuple[Any, ...] | None]) -> None:
        while (item := await queue.get()) is not None:
            if self.lost:
                continue
            try:
                await self._apply(item)
            except LeaseLost:
                self.lost = True
                self.cancel.set()

    async def _apply(self, item: tuple[Any, ...]) -> None:
        kind, at = item[0], item[-1]
        if kind == "start":
            self.step_started[item[1]] = at
            await self.journal.step(item[1], status="running", started_at=at)
        elif kind == "end":
            stats: StepStats = item[2]
            await self.journal.step(item[1], status=_step_status(stats), rows_in=stats.rows_in,
                                    rows_out=stats.rows_out, duration_s=round(stats.duration_s, 6),
                                    error=stats.error, finished_at=at)
        elif kind == "log":
            await self.journal.log(item[1], item[2], item[3], at)
        elif kind == "prepared":
            await self._decide(item[1])
        elif kind == "released":
            await staging.released(self.job.id, item[1])
        elif kind == "progress":
            await self.journal.update_job("progress", progress=round(min(max(item[1], 0.0), 1.0), 4))
        elif kind == "quality":
            await self._quality(item[1], item[2], item[3], at)

    async def _quality(self, step_id: str, index: int, outcome: dict[str, Any], at: Any) -> None:
        """A check of a quality_check step ran: a saved rule's outcome is stored as the rule's result (an
        inline check's is in the log only)."""
        saved = self.saved_rules.get((step_id, index))
        if saved is None:
            return
        if not await renew(self.job.id, self.token, self.lease_seconds):
            raise LeaseLost(self.job.id)  # Another process runs the job now: it stores its own results.
        result_id = await record_step_outcome(self.job.id, self.job.workspace_id, self.job.created_by,
                                              saved, outcome, self.step_started.get(step_id, at), at)
        if result_id is not None and self.on_quality_result is not None:
            try:
                with binding(self.journal.bus) if self.journal.bus is not None else contextlib.nullcontext():
                    await self.on_quality_result(result_id)
            except Exception:
                log.exception("Settling the quality result %s of job %s failed", result_id, self.job.id)

    async def _decide(self, records: list[dict[str, str]]) -> None:
        """Every step succeeded: record the plan, then tell the process to publish (or to discard, if too late)."""
        assert self.child is not None
        held = await renew(self.job.id, self.token, self.lease_seconds)
        self.lost = self.lost or not held
        publish = held and not self.cancel.is_set()
        publish = publish and not await self._cancel_requested()
        publish = publish and await staging.decide(self.job.id, self.child.plan.job_key, records)
        if publish:
            await self.journal.log("info", None, f"every step succeeded; publishing {len(records)} staged write(s)")
        self.child.decide(publish)

    async def _watch(self) -> None:
        """Renew the lease (a third of its length) and poll for a cancel asked from another process."""
        renew_every = self.lease_seconds / 3
        since_renewal = 0.0
        tick = min(self.poll_seconds, 0.5)
        while not self.cancel.is_set():
            await asyncio.sleep(tick)
            since_renewal += tick
            if since_renewal >= renew_every:
                since_renewal = 0.0
                if not await renew(self.job.id, self.token, self.lease_seconds):
                    self.lost = True
                    self.cancel.set()
                    return
                await writers.renew(self.job.id, self.lease_seconds)
            if await self._cancel_requested() or self.controls.time_is_up():
                self.cancel.set()

