"""The event bus: in-process fan-out to bounded subscriber queues, relayed between processes by PostgreSQL.

Events are notices of something already stored (a log line, a status change, a new job, a schedule
change), so a subscriber that misses some (a full queue, a reconnect) loses nothing: it reads the store
again after its cursor. Topics: `job:<id>` (log, step, status), `jobs` (created, cancel) and `schedules`.

No bus is shared by the whole process: each app (or worker) makes its own and hands it to its executor, scheduler
and relay. The domain publishes through the bus *bound* to the task it runs in: the app binds its bus
around every request, the scheduler around every tick. Two apps in one process never share events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import deque
from collections.abc import Iterable, Iterator
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger("docc.bus")

DEFAULT_QUEUE_SIZE = 1_000
JOBS_TOPIC = "jobs"
SCHEDULES_TOPIC = "schedules"
# Wake-ups of the job feed readers: the feed itself is stored by database triggers (engine migration 0003).
JOB_FEED_TOPIC = "job_feed"


def job_topic(job_id: str) -> str:
    """The topic of one job's log lines, step changes and status changes."""
    return f"job:{job_id}"


@dataclass(frozen=True)
class Event:
    """A notice on a topic; `data` is small JSON (a log line, a status, ids).

    One event object reaches every subscriber of its topic in this process. `memo` holds what readers derive
    from it once for all of them (a line's read model, its encodings), so a thousand followers of a job do
    that work once per line, not once each.
    """

    topic: str
    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


class Subscription:
    """A bounded queue of one subscriber (one reader); a full queue marks it overflowed instead of blocking the
    publisher.

    A reader that keeps up never sees `overflowed`; one that falls behind by more than the queue does, and
    either reads the store again (a notice-only reader) or ends its stream as lagged (a live log reader).
    A reader waits on a future of its own that `deliver` resolves: no task and no `wait_for` per event (with
    a thousand followers of a busy job, those were a large share of the work of every line).
    """

    def __init__(self, bus: EventBus, topics: Iterable[str], maxsize: int) -> None:
        self.bus, self.topics = bus, tuple(topics)
        self._queue: deque[Event] = deque()
        self._maxsize = maxsize
        self._waiter: asyncio.Future[None] | None = None
        self._loop = asyncio.get_running_loop()
        self.overflowed = False

    def deliver(self, event: Event) -> None:
        if self.overflowed:
            return
        if self._maxsize > 0 and len(self._queue) >= self._maxsize:
            self.overflowed = True
        else:
            self._queue.append(event)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self, timeout: float | None = None) -> Event | None:  # noqa: ASYNC109
        """The next event; None when events were dropped (re-read the store) or on timeout."""
        if not self._queue and not self.overflowed:
            waiter = self._waiter = self._loop.create_future()
            timer = None if timeout is None else self._loop.call_later(timeout, _wake, waiter)
            try:
                await waiter
            finally:
                self._waiter = None
                if timer is not None:
                    timer.cancel()
        if self.overflowed:
            self.drain()
            return None
        return self._queue.popleft() if self._queue else None

    def take_ready(self) -> list[Event]:
        """Every event queued now, without waiting (a reader that handles a backlog in one go); leaves
        `overflowed` as it is."""
        ready = list(self._queue)
        self._queue.clear()
        return ready

    def drain(self) -> int:
        """Drop every queued event (a reader about to re-read the store); returns how many."""
        count = len(self._queue)
        self._queue.clear()
        self.overflowed = False
        return count

    def close(self) -> None:
        """Stop receiving events."""
        self.bus.unsubscribe(self)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Receiver(Protocol):
    """Anything the bus hands a topic's events to, on its own loop: a `Subscription`, or a reader shared by
    many followers (one fan-out per followed job, see resolvers/job_fanout.py)."""

    topics: tuple[str, ...]
    _loop: asyncio.AbstractEventLoop

    def deliver(self, event: Event) -> None: ...


class Relay(Protocol):
    """Carries events to the other processes that share the database."""

    async def send(self, event: Event) -> None: ...


class EventBus:
    """Fan-out of events to the subscribers of this process, and to other processes through a relay."""

    def __init__(self, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        self.node_id = f"node_{secrets.token_hex(6)}"
        self.queue_size = queue_size
        self._subscribers: dict[str, set[Receiver]] = {}
        self._relays: list[Relay] = []
        # Readers shared by every follower of a topic in this process (made and dropped by the domain), so
        # two apps in one process never share one.
        self.shared: dict[str, Any] = {}

    def subscribe(self, *topics: str, maxsize: int | None = None) -> Subscription:
        """A new subscription to `topics` (a queue of `maxsize` or the bus's size), bound to the running loop;
        close it in a finally."""
        subscription = Subscription(self, topics, self.queue_size if maxsize is None else maxsize)
        for topic in topics:
            self._subscribers.setdefault(topic, set()).add(subscription)
        return subscription

    def add_receiver(self, receiver: Receiver) -> None:
        """Hand the events of the receiver's topics to it from now on (until `unsubscribe`)."""
        for topic in receiver.topics:
            self._subscribers.setdefault(topic, set()).add(receiver)

    def subscriptions(self, topic: str) -> tuple[Receiver, ...]:
        """The subscriptions (and other receivers) of this process to `topic` now."""
        return tuple(self._subscribers.get(topic, ()))

    def unsubscribe(self, subscription: Receiver) -> None:
        for topic in subscription.topics:
            members = self._subscribers.get(topic)
            if members is not None:
                members.discard(subscription)
                if not members:
                    del self._subscribers[topic]

    def deliver_local(self, event: Event) -> None:
        """Hand an event to this process's subscribers (each on its own loop)."""
        for subscription in list(self._subscribers.get(event.topic, ())):
            loop = subscription._loop
            if loop.is_closed():
                continue
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                subscription.deliver(event)
            else:
                loop.call_soon_threadsafe(subscription.deliver, event)

    async def publish(self, event: Event) -> None:
        """Deliver locally, then to other processes; call only after the fact is stored."""
        self.deliver_local(event)
        for relay in list(self._relays):
            try:
                await relay.send(event)
            except Exception as exc:  # Remote readers catch up from the store; the job must go on.
                log.warning("Relaying an event failed: %s", type(exc).__name__)

    def attach(self, relay: Relay) -> None:
        self._relays.append(relay)

    def detach(self, relay: Relay) -> None:
        with contextlib.suppress(ValueError):
            self._relays.remove(relay)


# Task-local, not process-wide: set for the duration of one request or tick, copied into the tasks it starts.
_BOUND: ContextVar[EventBus | None] = ContextVar("docc_event_bus", default=None)


def bind(bus: EventBus) -> Token[EventBus | None]:
    """Make `bus` the one the domain publishes to and subscribes on (and tasks started from here), until `unbind`
    is given the token: the per-request form of `binding`, without a generator per request."""
    return _BOUND.set(bus)


def unbind(token: Token[EventBus | None]) -> None:
    """Put back the bus bound before `bind` gave `token`."""
    _BOUND.reset(token)


@contextlib.contextmanager
def binding(bus: EventBus) -> Iterator[EventBus]:
    """Make `bus` the one the domain publishes to and subscribes on, within this block (and tasks it starts)."""
    token = bind(bus)
    try:
        yield bus
    finally:
        unbind(token)


def bound_bus() -> EventBus | None:
    """The bus bound to the running task, None outside any request or tick."""
    return _BOUND.get()


def current_bus() -> EventBus:
    """The bus bound to the running task; a RuntimeError (a wiring bug, never client input) when none is."""
    bus = _BOUND.get()
    if bus is None:
        raise RuntimeError("No event bus is bound: the app binds one per request, the scheduler per tick")
    return bus


async def publish(event: Event) -> None:
    """Publish on the bound bus. Without one (a tool or test calling the domain directly) nobody in this
    process listens, and the fact is already stored, so the notice is dropped."""
    bus = _BOUND.get()
    if bus is None:
        log.debug("No bus bound; event %s on %s not sent", event.kind, event.topic)
        return
    await bus.publish(event)
