"""What a quality run and a profile share: both are rows that stay `running` until a worker lands them, so the
caller may wait for one and cancel one the same way."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from tortoise.models import Model

from resolvers.errors import Conflict
from server.engine.bus import Event, current_bus, publish
from server.engine.quality_runs import QUALITY_TOPIC

MAX_WAIT_SECONDS = 60


class Running(Protocol):
    id: str
    status: str
    started_at: datetime


Row = TypeVar("Row", bound=Running)


async def wait_finished(load: Callable[[], Awaitable[Row]], topic: str, seconds: float) -> Row:
    """The row once it is no longer running, or as it is after `seconds` (at most a minute); `topic` announces
    that it finished. Raises what `load` raises."""
    row = await load()
    if row.status != "running" or seconds <= 0:
        return row
    subscription = current_bus().subscribe(topic)
    try:
        deadline = datetime.now(UTC).timestamp() + min(seconds, MAX_WAIT_SECONDS)
        while (row := await load()).status == "running":
            left = deadline - datetime.now(UTC).timestamp()
            if left <= 0:
                break
            # A notice wakes us at once; the timeout re-reads the store in case a notice was missed.
            await subscription.get(timeout=min(left, 1.0))
    finally:
        subscription.close()
    return row


async def cancel_running(model: type[Model], row: Running, what: str, key: str,
                         landed: Callable[[str], Awaitable[None]]) -> None:
    """Stop a running row of `model`: at once when no worker has claimed it yet (then `landed` follows it up),
    else by asking its worker (a `cancel` notice naming it as `key`). Raises Conflict once it finished."""
    if row.status != "running":
        raise Conflict(f"The {what} already finished ({row.status})", {"status": row.status})
    now = datetime.now(UTC)
    unclaimed = await model.filter(id=row.id, status="running", runner=None).update(
        status="cancelled", cancel_requested=True, finished_at=now,
        duration_s=round((now - row.started_at).total_seconds(), 6))
    if unclaimed:
        await landed(row.id)
    else:
        await model.filter(id=row.id).update(cancel_requested=True)
        await publish(Event(QUALITY_TOPIC, "cancel", {key: row.id}))
