"""The job feed of a workspace: every job created, changed or finished (and every quality rule's run
started or finished), stored then live, from a cursor.

The feed is written by database triggers in the same transaction as the change (engine migration 0003),
with a `seq` per workspace that commits in order and without gaps; so a reader that subscribes to the
wake-ups first, then reads the store after its cursor, and reads it again on every wake-up (or after a
quiet while), misses nothing and sees nothing twice, whichever process made the change.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from resolvers.errors import ValidationError
from resolvers.jobs import READ
from resolvers.ownership import well_formed_id
from resolvers.principal import Principal
from resolvers.views.job_events import EVENT_KINDS, JobEventView
from resolvers.views.jobs import JOB_STATUSES
from server.engine.bus import JOB_FEED_TOPIC, JOBS_TOPIC, Subscription, current_bus
from server.models.engine import JobEvent, JobEventCounter

__all__ = ["EVENT_KINDS", "EventFilter", "follow_event_batches", "follow_events", "read_events"]

BATCH = 500
# A safety net: without any wake-up for this long, look at the store again.
IDLE_SECONDS = 15.0


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which feed entries to deliver; every given criterion must hold. The cursor passes the others."""

    pipeline_id: str | None = None
    status: str | None = None

    def __post_init__(self) -> None:
        if self.pipeline_id is not None and not well_formed_id(self.pipeline_id):
            raise ValidationError("Invalid filter", field="pipeline_id", reason="Not a pipeline id")
        if self.status is not None and self.status not in JOB_STATUSES:
            raise ValidationError("Invalid filter", field="status",
                                  reason=f"Expected one of {', '.join(JOB_STATUSES)}")

    def matches(self, row: JobEvent) -> bool:
        # `status` is a job's status: a rule's run (whose status column holds the result's) never matches it.
        return ((self.pipeline_id is None or row.pipeline_id == self.pipeline_id)
                and (self.status is None or (row.rule_id is None and row.status == self.status)))


async def _top(workspace_id: str) -> int:
    found = await JobEventCounter.filter(workspace_id=workspace_id).values_list("seq", flat=True)
    return int(found[0]) if found else 0


async def _start(principal: Principal, after: int | None) -> int:
    """The cursor to read after: `after`, or the newest entry when None (only what happens from now)."""
    top = await _top(principal.workspace_id)
    if after is None:
        return top
    if after < 0 or after > top:
        raise ValidationError("Invalid cursor", field="after",
                              reason="Expected the cursor of an event of this feed (0 for the beginning)")
    return after


async def read_events(principal: Principal, wanted: EventFilter, after: int, limit: int = BATCH
                      ) -> tuple[list[JobEventView], int]:
    """Stored entries after `after` that match, and the cursor past everything read (matching or not)."""
    principal.require(READ)
    rows = await JobEvent.filter(workspace_id=principal.workspace_id, seq__gt=after).order_by("seq").limit(limit)
    cursor = rows[-1].seq if rows else after
    return [JobEventView.from_row(row) for row in rows if wanted.matches(row)], cursor


async def follow_events(principal: Principal, wanted: EventFilter, after: int | None = None
                        ) -> AsyncIterator[JobEventView]:
    """Stored entries after `after` (None: from now on), then live ones, never ending.

    Only the credential's workspace is read. Checks come first, before anything is streamed: raises
    Forbidden (no read:jobs) and ValidationError (a cursor this feed never gave).
    """
    return _each(await follow_event_batches(principal, wanted, after))


async def follow_event_batches(principal: Principal, wanted: EventFilter, after: int | None = None
                               ) -> AsyncIterator[list[JobEventView]]:
    """`follow_events`, an entry list per read of the store (never empty), for a transport that writes each
    list at once. Raises Forbidden, ValidationError."""
    principal.require(READ)
    # Subscribe before the store is read: a change committed after the read wakes this reader up.
    subscription = current_bus().subscribe(JOB_FEED_TOPIC, JOBS_TOPIC)
    try:
        cursor = await _start(principal, after)
    except BaseException:
        subscription.close()
        raise
    return _follow(principal, wanted, cursor, subscription)


async def _each(batches: AsyncIterator[list[JobEventView]]) -> AsyncIterator[JobEventView]:
    try:
        async for batch in batches:
            for view in batch:
                yield view
    finally:
        await batches.aclose()  # type: ignore[attr-defined]


async def _follow(principal: Principal, wanted: EventFilter, cursor: int, subscription: Subscription
                  ) -> AsyncIterator[list[JobEventView]]:
    try:
        while True:
            while True:
                views, reached = await read_events(principal, wanted, cursor)
                if views:
                    yield views
                if reached == cursor:
                    break
                cursor = reached
            # Any wake-up (of this workspace or another: they are cheap) sends the reader to the store again.
            await subscription.get(timeout=IDLE_SECONDS)
            subscription.drain()
    finally:
        subscription.close()
