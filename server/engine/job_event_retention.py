"""Old entries of the job feed (`job_events`) are deleted after `DOCC_JOB_EVENTS_RETENTION_DAYS`.

Only the feed's rows go: the per-workspace counter (`job_event_counters`) stays, so cursors keep growing
and a reader's cursor is never reused. A reader that resumes from a cursor older than the retention gets
what is left after it. Deleted in batches by id, each its own short statement, so a big backlog never
holds the database (SQLite's single connection above all) for long.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from server.config import Settings
from server.models.engine import JobEvent

log = logging.getLogger("docc.engine")

BATCH = 1_000
EVERY_SECONDS = 3_600.0


async def delete_old_job_events(older_than: datetime, batch: int = BATCH) -> int:
    """Delete the feed entries stored before `older_than`, `batch` rows at a time; returns how many."""
    deleted = 0
    while True:
        ids = await JobEvent.filter(time__lt=older_than).order_by("id").limit(batch).values_list("id", flat=True)
        if not ids:
            return deleted
        await JobEvent.filter(id__in=list(ids)).delete()
        deleted += len(ids)
        if len(ids) < batch:
            return deleted
        await asyncio.sleep(0)  # let requests in between batches


async def _prune_forever(days: int, every: float) -> None:
    while True:
        try:
            deleted = await delete_old_job_events(datetime.now(UTC) - timedelta(days=days))
            if deleted:
                log.info("Deleted %d job feed entries older than %d days", deleted, days)
        except Exception as exc:  # The next round tries again; serving must go on.
            log.warning("Deleting old job feed entries failed: %s", type(exc).__name__)
        await asyncio.sleep(every)


def job_event_retention(settings: Settings, every: float = EVERY_SECONDS) -> Callable[[Any], AsyncIterator[None]]:
    """A cleanup context for an app whose database is open: prunes the feed now and then, if it runs schedules
    and a retention is set."""

    async def pruning(_app: Any) -> AsyncIterator[None]:
        if not settings.run_schedules or not settings.job_events_retention_days:
            yield
            return
        task = asyncio.create_task(_prune_forever(settings.job_events_retention_days, every))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return pruning
