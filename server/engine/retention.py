"""Retention: finished jobs older than DOCC_JOB_RETENTION_DAYS go, with everything stored about them.

A job goes with its steps, log lines, feed events and staged-write rows, in batches, each batch in one
transaction. Only finished jobs go, by the time they finished, and never one with staged writes left to
finish (the sweep completes or undoes those first; the job goes on a later pass). A deleted pipeline
(kept only for its jobs) is removed with its versions once no job of it is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.expressions import Q, Subquery
from tortoise.transactions import in_transaction

from server.engine.leases import utcnow
from server.models.engine import (
    FINISHED,
    Job,
    JobEvent,
    JobLog,
    JobStep,
    Pipeline,
    PipelineVersion,
    Schedule,
    StagedWrite,
)

log = logging.getLogger("docc.engine")

BATCH = 500


@dataclass(frozen=True)
class Purged:
    """What one pass removed."""

    jobs: int
    pipelines: int


async def _expired_batch(cutoff: datetime, size: int) -> list[str]:
    pending_writes = Subquery(StagedWrite.all().values("job_id"))
    # A finished job without an end time (none should exist) ages by its creation.
    aged = Q(finished_at__lt=cutoff) | Q(finished_at__isnull=True, created_at__lt=cutoff)
    return list(await Job.filter(aged, status__in=FINISHED).exclude(id__in=pending_writes)
                .order_by("finished_at", "id").limit(size).values_list("id", flat=True))


async def _remove_jobs(job_ids: list[str]) -> int:
    async with in_transaction():
        # Settle again inside the transaction: only what is still finished and has no staged write goes.
        ids = list(await Job.filter(id__in=job_ids, status__in=FINISHED).exclude(
            id__in=Subquery(StagedWrite.filter(job_id__in=job_ids).values("job_id"))).values_list("id", flat=True))
        if not ids:
            return 0
        await JobLog.filter(job_id__in=ids).delete()
        await JobStep.filter(job_id__in=ids).delete()
        await JobEvent.filter(job_id__in=ids).delete()
        await Job.filter(id__in=ids, status__in=FINISHED).delete()
    return len(ids)


async def _purge_deleted_pipelines(size: int) -> int:
    ids = list(await Pipeline.filter(deleted_at__isnull=False).exclude(
        id__in=Subquery(Job.all().values("pipeline_id"))).limit(size).values_list("id", flat=True))
    purged = 0
    for pipeline_id in ids:
        async with in_transaction():
            # A job made meanwhile keeps the pipeline (the check and the delete are one transaction).
            if await Job.filter(pipeline_id=pipeline_id).exists():
                continue
            await Schedule.filter(pipeline_id=pipeline_id).delete()
            await PipelineVersion.filter(pipeline_id=pipeline_id).delete()
            purged += await Pipeline.filter(id=pipeline_id, deleted_at__isnull=False).delete() >= 1
    return purged


async def purge(retention_days: float, now: datetime | None = None, batch: int = BATCH) -> Purged:
    """Remove the finished jobs older than `retention_days` and the deleted pipelines left without jobs."""
    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    jobs = 0
    while ids := await _expired_batch(cutoff, batch):
        removed = await _remove_jobs(ids)
        jobs += removed
        if removed == 0 or len(ids) < batch:
            break
    pipelines = await _purge_deleted_pipelines(batch)
    if jobs or pipelines:
        log.info("Retention removed %d job(s) and %d deleted pipeline(s)", jobs, pipelines)
    return Purged(jobs, pipelines)


class Retention:
    """Runs `purge` in the background every `interval_seconds`, from the start."""

    def __init__(self, retention_days: float, interval_seconds: float) -> None:
        self.retention_days, self.interval_seconds = retention_days, interval_seconds
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            try:
                await purge(self.retention_days)
            except Exception:
                log.exception("Removing old jobs failed")
            await asyncio.sleep(max(self.interval_seconds, 1.0))
