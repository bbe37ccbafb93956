"""One fan-out per followed job and process: live lines written once per wire form, straight to every
follower's transport.

A follower that reached the live lines hands its transport (a `LineSink`) to the job's `JobFanout`, and its
own task sleeps until the fan-out gives it back. The fan-out receives the job's events from the bus, takes
what arrived in one loop turn (or, on a busy job, in LINGER_SECONDS) as one batch, and for each group of
followers that would write the same bytes (same wire form, same filter, same cursor) encodes the batch once
and writes those bytes to each transport in one loop: no task wakes up per follower and line, and a line is
encoded once per wire form, not once per follower. On a busy job the next batch waits at least as long as
the last one took to write, so the more followers, the more lines a batch (and a system call) carries.

The fan-out gives a follower back (`JoinedFanout.done`) with a reason:

- `store`: a gap in the sequence, a line that came without its text, the job's end, or a quiet spell of
  IDLE_SECONDS: the follower reads the store after its cursor (and ends, or joins again);
- `lagged`: its transport held more than its bound of unsent bytes (a slow client or network): it is told
  so in-band with its cursor and its stream ends, and the others are not held back;
- `closed`: its transport closed under it (the client went away);
- `slow_path`: a line its wire form cannot encode directly (the stream goes on through the usual road).

Hand-over without gap or duplicate: the follower's own bus subscription stays open while it reads the store;
joining takes what waits in it (written at once, in order), closes it and registers with the fan-out in one
step, and the fan-out, subscribed before that, skips every line at or below each follower's cursor.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Protocol

from resolvers.views.jobs import LogLineView
from server.engine.bus import Event, EventBus, Subscription, job_topic

# A follower whose last lines came less than HOT_SECONDS ago gets the next ones LINGER_SECONDS later, in a
# batch (one write for several lines); a quiet job's lines go out at once.
HOT_SECONDS = 1.0
LINGER_SECONDS = 0.01
# Without any event for this long, a follower looks at the store again (a safety net).
IDLE_SECONDS = 15.0
# A follower may have this many unsent bytes per line of its queue (DOCC_SUBSCRIBER_QUEUE_SIZE) waiting in
# its transport before it counts as lagged.
BYTES_PER_QUEUED_LINE = 512


class CannotEncode(Exception):
    """A sink's wire form cannot write a line directly; its follower goes on through the usual road."""


class LineSink(Protocol):
    """The transport of one follower, written to without waiting (the fan-out checks its buffer instead)."""

    # Followers whose sinks have equal keys (and the same filter) are written the same bytes.
    key: Hashable

    def encode(self, lines: list[LogLineView]) -> bytes:
        """The bytes of `lines` on this wire (raises CannotEncode)."""
        ...

    def write(self, data: bytes) -> None:
        """Queue `data` on the transport (raises ConnectionError when it is closed)."""
        ...

    def buffered(self) -> int:
        """Bytes queued on the transport and not yet sent."""
        ...

    def closing(self) -> bool:
        """Whether the transport is closed or closing."""
        ...


@dataclass(eq=False)
class JoinedFanout:
    """One follower in a fan-out: where it is (`cursor`, the last line given or passed) and when it is given
    back (`done`, resolved with the reason)."""

    sink: LineSink
    wanted: tuple[str, ...] | None
    limit: int
    cursor: int
    done: asyncio.Future[str] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


def take_lines(events: list[Event], cursor: int) -> tuple[list[LogLineView], int, bool]:
    """The consecutive lines after `cursor` in `events`, the cursor after them, and whether the reader must
    look at the store next (a gap, a line without its text, the job's end)."""
    lines: list[LogLineView] = []
    for event in events:
        if event.kind == "log":
            seq = event.data.get("seq", 0)
            if seq <= cursor:
                continue
            if seq == cursor + 1 and "message" in event.data:
                lines.append(LogLineView.shared(event))
                cursor = seq
                continue
            return lines, cursor, True
        if event.kind == "status" and event.data.get("finished"):
            return lines, cursor, True
    return lines, cursor, False


def _kept(lines: list[LogLineView], wanted: tuple[str, ...] | None) -> list[LogLineView]:
    return lines if wanted is None else [line for line in lines if line.level in wanted]


class JobFanout:
    """The live lines of one job, for every follower of it in this process that handed over its transport."""

    def __init__(self, bus: EventBus, job_id: str) -> None:
        self.bus, self.topics = bus, (job_topic(job_id),)
        self._loop = asyncio.get_running_loop()
        self._followers: dict[JoinedFanout, None] = {}  # in the order they joined; O(1) to drop one
        self._events: list[Event] = []
        self._flush_handle: asyncio.Handle | None = None
        self._last_flush = -math.inf
        self._busy = 0.0  # how long the last flush took
        self.last_event = self._loop.time()
        bus.add_receiver(self)

    @classmethod
    def of(cls, bus: EventBus, job_id: str) -> JobFanout:
        """The fan-out of `job_id` on `bus` (made on first use, dropped when its last follower leaves)."""
        topic = job_topic(job_id)
        found = bus.shared.get(topic)
        if not isinstance(found, JobFanout):
            found = bus.shared[topic] = cls(bus, job_id)
        return found

    def __len__(self) -> int:
        return len(self._followers)

    def followers(self) -> tuple[JoinedFanout, ...]:
        """The followers fed now."""
        return tuple(self._followers)

    def join(self, sink: LineSink, subscription: Subscription, cursor: int, wanted: tuple[str, ...] | None,
             limit: int) -> JoinedFanout:
        """Take over a follower at `cursor` from its own subscription (closed here): what waits in it is
        written at once, and the fan-out writes the next lines. Check `done` of the answer: it may already be
        resolved (what waited ended with a gap or the job's end, or the subscription had overflowed)."""
        events, overflowed = subscription.take_ready(), subscription.overflowed
        subscription.close()
        joined = JoinedFanout(sink, wanted, limit, cursor)
        if overflowed:  # It fell behind while reading stored lines: it reads them again, that is no lag.
            joined.done.set_result("store")
            return joined
        lines, cursor, to_store = take_lines(events, cursor)
        if kept := _kept(lines, wanted):
            try:
                sink.write(sink.encode(kept))
            except CannotEncode:
                joined.done.set_result("slow_path")
                return joined
            except ConnectionError:
                joined.done.set_result("closed")
                return joined
        joined.cursor = cursor
        if to_store:
            joined.done.set_result("store")
        else:
            self._followers[joined] = None
        return joined

    def leave(self, joined: JoinedFanout) -> None:
        """Stop feeding a follower (a no-op for one already given back); the last one out drops the fan-out."""
        self._followers.pop(joined, None)
        if not joined.done.done():
            joined.done.set_result("closed")
        if not self._followers and self.bus.shared.get(self.topics[0]) is self:
            del self.bus.shared[self.topics[0]]
            self.bus.unsubscribe(self)
            if self._flush_handle is not None:
                self._flush_handle.cancel()
                self._flush_handle = None

    def deliver(self, event: Event) -> None:
        if event.kind not in ("log", "status"):
            return
        self._events.append(event)
        if self._flush_handle is None:
            now = self.last_event = self._loop.time()
            if now - self._last_flush < HOT_SECONDS:
                self._flush_handle = self._loop.call_later(max(LINGER_SECONDS, self._busy), self.flush)
            else:
                self._flush_handle = self._loop.call_soon(self.flush)

    def flush(self) -> None:
        """Write what arrived since the last flush to every follower, once encoded per group."""
        self._flush_handle = None
        self._last_flush = self.last_event = self._loop.time()
        events, self._events = self._events, []
        written: dict[tuple[Hashable, tuple[str, ...] | None, int], tuple[bytes | None, int, bool]] = {}
        for joined in list(self._followers):
            sink = joined.sink
            group = (sink.key, joined.wanted, joined.cursor)
            found = written.get(group)
            if found is None:
                lines, cursor, to_store = take_lines(events, joined.cursor)
                kept = _kept(lines, joined.wanted)
                try:
                    data: bytes | None = sink.encode(kept) if kept else b""
                except CannotEncode:
                    data = None
                found = written[group] = (data, cursor, to_store)
            data, cursor, to_store = found
            if data is None:
                self._give_back(joined, "slow_path")
                continue
            if data:
                if sink.buffered() > joined.limit:
                    self._give_back(joined, "lagged")
                    continue
                try:
                    sink.write(data)
                except ConnectionError:
                    self._give_back(joined, "closed")
                    continue
            elif sink.closing():
                self._give_back(joined, "closed")
                continue
            joined.cursor = cursor
            if to_store:
                self._give_back(joined, "store")
        # The next batch waits at least as long as this one took to write: with many followers the fan-out
        # then takes at most about half of the loop, and writes more lines per system call, not fewer.
        self._busy = self._loop.time() - self._last_flush

    def _give_back(self, joined: JoinedFanout, reason: str) -> None:
        del self._followers[joined]
        if not joined.done.done():
            joined.done.set_result(reason)


async def follow_through(bus: EventBus, job_id: str, sink: LineSink, subscription: Subscription, cursor: int,
                         wanted: tuple[str, ...] | None) -> tuple[str, int]:
    """Hand a follower at `cursor` to the job's fan-out until it is given back: (reason, its cursor then)."""
    fanout = JobFanout.of(bus, job_id)
    joined = fanout.join(sink, subscription, cursor, wanted, max(bus.queue_size, 1) * BYTES_PER_QUEUED_LINE)
    try:
        while not joined.done.done():
            # A quiet job: now and then the follower looks at the store itself, as every reader does.
            await asyncio.wait((joined.done,), timeout=IDLE_SECONDS)
            if not joined.done.done() and fanout._loop.time() - fanout.last_event >= IDLE_SECONDS:
                fanout.leave(joined)
                return ("closed" if sink.closing() else "store"), joined.cursor
        return joined.done.result(), joined.cursor
    finally:
        fanout.leave(joined)
