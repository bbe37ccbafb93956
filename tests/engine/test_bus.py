"""The event bus: bounded subscriber queues, and LISTEN/NOTIFY between processes on PostgreSQL."""

from __future__ import annotations

import pytest

from server.engine.bus import Event, EventBus
from server.engine.pg_relay import PgRelay


async def test_a_slow_subscriber_overflows_without_blocking_the_publisher():
    # given a subscriber with room for two events that reads none
    bus = EventBus()
    slow = bus.subscribe("job:1", maxsize=2)
    fast = bus.subscribe("job:1")
    # when five are published
    for seq in range(1, 6):
        await bus.publish(Event("job:1", "log", {"seq": seq}))
    # then the slow one is told to re-read the store, the fast one has them all
    assert await slow.get(timeout=1) is None
    assert [(await fast.get(timeout=1)).data["seq"] for _ in range(5)] == [1, 2, 3, 4, 5]
    slow.close()
    fast.close()


async def test_events_cross_processes_through_postgres(db):
    # given two buses standing for two processes on one PostgreSQL database
    if not db.startswith("postgres"):
        pytest.skip("runs on the PostgreSQL backend only")
    sender, receiver = EventBus(), EventBus()
    relays = [PgRelay(sender, db), PgRelay(receiver, db)]
    for relay in relays:
        await relay.start()
    sender.attach(relays[0])
    subscription = receiver.subscribe("job:x")
    try:
        # when
        await sender.publish(Event("job:x", "log", {"job_id": "x", "seq": 1, "message": "m" * 10_000}))
        event = await subscription.get(timeout=5)
    finally:
        subscription.close()
        for relay in relays:
            await relay.stop()
    # then it arrived, without the data too big for a notification
    assert event is not None and event.kind == "log" and event.data == {"job_id": "x", "seq": 1}
