"""Live streams of a job: its log lines after a cursor, then its state, each ending when the job ends.

Hand-over without gap or duplicate: the subscription opens before the store is read, and every line
carries its sequence number, so a live line at or below the cursor is dropped and a jump past
`cursor + 1` (or a dropped event) sends the reader back to the store.

Slow readers: each has a bounded queue of live lines. One that falls behind by more than its queue while
following live is not fed from the store at its own pace (that would cost the server a read per line for
as long as it stays slow): its stream ends with `Lagged`, which carries the cursor it reached, and the
client resumes from there with nothing lost. Falling behind while still reading stored lines is not lag:
the reader reads the store again. Neither ever slows the job or another reader.

A reader that brings its transport (a `LineSink`) gets its live lines from the job's fan-out instead
(resolvers/job_fanout.py): written there once per wire form for all such readers, straight to their
transports; its bound is then the unsent bytes its transport holds, and the rest is as above.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from tortoise.queryset import QuerySet

from resolvers.errors import NotFound, ValidationError
from resolvers.job_fanout import HOT_SECONDS, IDLE_SECONDS, LINGER_SECONDS, LineSink, follow_through
from resolvers.jobs import READ, levels_from, views_of
from resolvers.ownership import well_formed_id
from resolvers.principal import Principal
from resolvers.validation import aware
from resolvers.views.jobs import FINISHED, JobView, LogLineView
from server.engine.bus import Subscription, current_bus, job_topic
from server.models.engine import Job, JobLog

BATCH = 500
# IDLE_SECONDS (a safety net: without any event for this long, look at the store again), HOT_SECONDS and
# LINGER_SECONDS (a follower of a busy job takes its lines in batches, one wake-up and one write for several)
# are those of the fan-out: see resolvers/job_fanout.py.


@dataclass(frozen=True, slots=True)
class Lagged:
    """The last message of a stream whose reader fell behind: resume with `after=cursor`."""

    cursor: int


class _FellBehind(Exception):
    pass


@dataclass(frozen=True, slots=True)
class JobEnded:
    """The last message of a stream: the job in its final state."""

    job: JobView


async def _view(job: Job) -> JobView:
    [view] = await views_of([job])
    return view


async def _open(principal: Principal, job_id: str) -> Subscription:
    principal.require(READ)
    # Subscribe before anything is read, so nothing published from now on can be missed. The bus is the one
    # the serving app bound to this request: another app in the same process has its own.
    subscription = current_bus().subscribe(job_topic(job_id))
    if not well_formed_id(job_id) or not await Job.filter(id=job_id, workspace_id=principal.workspace_id).exists():
        subscription.close()
        raise NotFound("job", job_id)
    return subscription


async def follow_logs(principal: Principal, job_id: str, after: int = 0, *, tail: int | None = None,
                      since: datetime | None = None, level: str | None = None
                      ) -> AsyncIterator[LogLineView | JobEnded | Lagged]:
    """Stored lines after `after` (or the last `tail`, or those since a time), then live ones, then JobEnded
    (or Lagged, when the reader fell behind the live lines by more than its queue).

    Only lines at or above `level` are yielded; the cursor still passes the others, so a reader that
    resumes from the last line it got misses nothing it asked for. Raises NotFound, ValidationError.
    """
    batches = follow_log_batches(principal, job_id, after, tail=tail, since=since, level=level)
    try:
        async for batch in batches:
            if isinstance(batch, list):
                for line in batch:
                    yield line
            else:
                yield batch
    finally:
        await batches.aclose()


async def follow_log_batches(principal: Principal, job_id: str, after: int = 0, *, tail: int | None = None,
                             since: datetime | None = None, level: str | None = None, sink: LineSink | None = None
                             ) -> AsyncIterator[list[LogLineView] | JobEnded | Lagged]:
    """`follow_logs`, with the lines grouped as they come: each stored page, and every live line waiting in
    the reader's queue, is one non-empty list (a transport writes it at once). Live lines are shared by
    every follower of the job (`LogLineView.shared`).

    With a `sink` (the follower's transport), live lines are not yielded: the job's fan-out writes them to
    the sink directly (see resolvers/job_fanout.py); stored lines, the end and a lag notice are yielded as
    usual, and the stream simply ends when the sink closes. Raises NotFound, ValidationError.
    """
    for name, value in (("after", after), ("tail", tail)):
        if value is not None and value < 0:
            raise ValidationError("Invalid cursor", field=name, reason="Must be at least 0")
    wanted = levels_from(level)
    since = aware(since, "since")
    subscription: Subscription | None = await _open(principal, job_id)
    bus = current_bus()
    try:
        cursor = max(after, await _start(job_id, tail, since, wanted))
        while True:
            if subscription is None:  # given back by the fan-out: subscribe again before reading the store
                subscription = bus.subscribe(job_topic(job_id))
            # The status is read before the lines: a finished job has stored all its lines by then.
            job = await Job.get(id=job_id)
            while rows := await JobLog.filter(job_id=job_id, seq__gt=cursor).order_by("seq").limit(BATCH):
                cursor = rows[-1].seq
                if stored := [LogLineView.from_row(row) for row in rows if wanted is None or row.level in wanted]:
                    yield stored
            if job.status in FINISHED:
                yield JobEnded(await _view(job))
                return
            if sink is not None:
                handed, subscription = subscription, None
                reason, cursor = await follow_through(bus, job_id, sink, handed, cursor, wanted)
                if reason == "lagged":
                    yield Lagged(cursor)
                    return
                if reason == "closed":
                    return
                if reason == "slow_path":
                    sink = None
                continue
            try:
                async for lines in _live_lines(subscription, cursor):
                    cursor = lines[-1].seq
                    if wanted is not None:
                        lines = [line for line in lines if line.level in wanted]
                    if lines:
                        yield lines
            except _FellBehind:
                yield Lagged(cursor)
                return
    finally:
        if subscription is not None:
            subscription.close()


async def _start(job_id: str, tail: int | None, since: datetime | None, wanted: tuple[str, ...] | None) -> int:
    """The cursor before the first line a reader asked for by `tail` or `since` (0: from the start)."""
    query = JobLog.filter(job_id=job_id)
    if wanted is not None:
        query = query.filter(level__in=wanted)
    last = JobLog.filter(job_id=job_id).order_by("-seq")
    if tail == 0:
        return await _seq(last) or 0
    if tail is not None:
        nth = await _seq(query.order_by("-seq").offset(tail - 1))
        return nth - 1 if nth is not None else 0
    if since is not None:
        first = await _seq(query.filter(time__gte=since).order_by("seq"))
        return first - 1 if first is not None else await _seq(last) or 0
    return 0


async def _seq(query: QuerySet[JobLog]) -> int | None:
    found = await query.limit(1).values_list("seq", flat=True)
    return int(found[0]) if found else None


async def _live_lines(subscription: Subscription, cursor: int) -> AsyncIterator[list[LogLineView]]:
    """Consecutive live lines after `cursor`, as many at a time as are waiting (never an empty list);
    returns when the reader must look at the store again.

    Raises _FellBehind when the queue overflowed while the reader was taking live lines.
    """
    if subscription.overflowed:
        subscription.drain()  # It fell behind while reading stored lines: read them again, that is no lag.
        return
    loop = asyncio.get_running_loop()
    last: float | None = None
    while True:
        if subscription.overflowed:
            raise _FellBehind
        first = await subscription.get(timeout=IDLE_SECONDS)
        if first is None:
            return
        if last is not None and loop.time() - last < HOT_SECONDS:
            await asyncio.sleep(LINGER_SECONDS)
        last = loop.time()
        lines: list[LogLineView] = []
        for event in (first, *subscription.take_ready()):
            if event.kind == "log":
                seq = event.data.get("seq", 0)
                if seq <= cursor:
                    continue
                if seq == cursor + 1 and "message" in event.data:
                    lines.append(LogLineView.shared(event))
                    cursor = seq
                    continue
            elif not (event.kind == "status" and event.data.get("finished")):
                continue
            # A gap, a line without its text, or the end: what came before it goes out, then the store.
            if lines:
                yield lines
            return
        if lines:
            yield lines


async def watch_job(principal: Principal, job_id: str) -> AsyncIterator[JobView]:
    """The job now, then again after each change (bursts coalesced), ending with its final state.

    Raises NotFound.
    """
    subscription = await _open(principal, job_id)
    try:
        while True:
            view = await _view(await Job.get(id=job_id))
            yield view
            if view.finished:
                return
            await subscription.get(timeout=IDLE_SECONDS)
            subscription.drain()
    finally:
        subscription.close()
