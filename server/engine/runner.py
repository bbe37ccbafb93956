"""One claimed job: the data plane runs in a worker thread while the loop journals its callbacks in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Mapping
from concurrent.futures import Executor as ThreadPool
from typing import Any

from server.engine.dataplane import (
    Cancelled,
    DataPlaneConfigError,
    MappingResolver,
    Policy,
    RunContext,
    StepFailed,
    StepStats,
    referenced_dataset_ids,
    run_pipeline,
)
from server.engine.journal import Journal, LeaseLost, reset_steps
from server.engine.leases import Claim, release, renew, utcnow
from server.models.datasets import Dataset
from server.models.engine import Job, JobStep

log = logging.getLogger("docc.engine")


async def build_resolver(job: Job, connections: Mapping[str, str]) -> MappingResolver:
    """The datasets of the job's workspace that its steps name, and the named connections."""
    ids = referenced_dataset_ids(job.steps)
    rows = await Dataset.filter(workspace_id=job.workspace_id, id__in=ids)
    return MappingResolver({row.id: (row.source, {"fields": row.schema_fields}) for row in rows},
                           dict(connections))


def _step_status(stats: StepStats) -> str:
    if stats.error is None:
        return "succeeded"
    return "cancelled" if stats.error == "cancelled" else "failed"


async def statistics(job: Job) -> dict[str, Any]:
    """Totals of a finished job from its step records."""
    steps = await JobStep.filter(job_id=job.id)
    counts: dict[str, int] = {}
    for step in steps:
        counts[step.status] = counts.get(step.status, 0) + 1
    return {
        "rows_read": sum(s.rows_out or 0 for s in steps if s.type == "data_source"),
        "rows_written": sum(s.rows_in or 0 for s in steps if s.type == "data_sink" and s.status == "succeeded"),
        "steps_total": len(steps),
        "steps_by_status": counts,
        "duration_s": round((utcnow() - job.started_at).total_seconds(), 3) if job.started_at else None,
    }


class JobRun:
    """Runs one claimed job to its end, renewing the lease and watching for a cancel request."""

    def __init__(self, claim: Claim, owner: str, pool: ThreadPool, connections: Mapping[str, str],
                 lease_seconds: float, poll_seconds: float, policy: Policy) -> None:
        self.job, self.token, self.takeover = claim.job, claim.token, claim.takeover
        self.policy = policy
        self.owner, self.pool, self.connections = owner, pool, connections
        self.lease_seconds, self.poll_seconds = lease_seconds, poll_seconds
        self.cancel = threading.Event()
        self.shutdown = False
        self.lost = False
        self.journal = Journal(self.job.id, self.token)

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
        if self.takeover:
            await reset_steps(self.job.id)
            await self.journal.log("warning", None, f"lease expired; taken over by {self.owner}")
        await self.journal.log("info", None, f"job started by {self.owner} (attempt {self.job.attempts})")
        await self.journal.update_job(progress=0.0)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[Any, ...] | None] = asyncio.Queue()

        def put(*item: Any) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, (*item, utcnow()))

        ctx = RunContext(cancel=self.cancel, on_step_start=lambda sid: put("start", sid),
                         on_step_end=lambda sid, stats: put("end", sid, stats),
                         log=lambda level, sid, message: put("log", level, sid, message),
                         on_progress=lambda fraction: put("progress", fraction))
        writer = asyncio.create_task(self._write(queue))
        watcher = asyncio.create_task(self._watch())
        outcome, error = "succeeded", None
        try:
            resolver = await build_resolver(self.job, self.connections)
            await loop.run_in_executor(self.pool, run_pipeline, self.job.steps, resolver, ctx,
                                       self.policy)
        except Cancelled:
            outcome = "cancelled"
        except StepFailed as exc:
            outcome, error = "failed", f"step {exc.step_id!r} failed: {exc.message}"
        except DataPlaneConfigError as exc:
            outcome, error = "failed", f"invalid pipeline: {exc.message}"
        finally:
            queue.put_nowait(None)
            await writer
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        if self.lost:
            raise LeaseLost(self.job.id)
        if outcome == "cancelled" and self.shutdown and not await self._cancel_requested():
            await self.journal.log("warning", None, "the process is stopping; job returned to the queue")
            await release(self.job.id, self.token)
            return
        await self._settle(outcome, error)

    async def _settle(self, outcome: str, error: str | None) -> None:
        await self.journal.close_open_steps("cancelled" if outcome == "cancelled" else "failed",
                                            "cancelled" if outcome == "cancelled" else error)
        job = await Job.get(id=self.job.id)
        stats = await statistics(job)
        if outcome == "succeeded":
            await self.journal.log("info", None, f"job succeeded: {stats['rows_read']} rows read, "
                                                 f"{stats['rows_written']} rows written")
        elif outcome == "cancelled":
            await self.journal.log("warning", None, "job cancelled; no destination was changed")
        else:
            await self.journal.log("error", None, f"job failed: {error}")
        values: dict[str, Any] = {"status": outcome, "finished_at": utcnow(), "error": error,
                                  "statistics": stats, "lease_expires_at": None}
        if outcome == "succeeded":
            values["progress"] = 1.0
        await self.journal.update_job(**values)

    async def _cancel_requested(self) -> bool:
        return await Job.filter(id=self.job.id, cancel_requested=True).exists()

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
            await self.journal.step(item[1], status="running", started_at=at)
        elif kind == "end":
            stats: StepStats = item[2]
            await self.journal.step(item[1], status=_step_status(stats), rows_in=stats.rows_in,
                                    rows_out=stats.rows_out, duration_s=round(stats.duration_s, 6),
                                    error=stats.error, finished_at=at)
        elif kind == "log":
            await self.journal.log(item[1], item[2], item[3], at)
        elif kind == "progress":
            await self.journal.update_job("progress", progress=round(min(max(item[1], 0.0), 1.0), 4))

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
            if await self._cancel_requested():
                self.cancel.set()

