"""The scheduler: one aiocron entry per active schedule, re-armed from the database on start and on change.

Several processes may run a scheduler on one database: each fires every tick, and the unique
(schedule_id, scheduled_for) of jobs lets exactly one of them create the tick's job. What a tick does
(make the job) is the domain's: the scheduler is given it as a callable where the app is assembled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

import aiocron

from server.engine.bus import SCHEDULES_TOPIC, EventBus, Subscription, binding
from server.models.engine import Schedule

log = logging.getLogger("docc.scheduler")

# Called with a schedule id when its cron fires; makes the tick's job (or nothing when another process did).
TickHandler = Callable[[str], Awaitable[Any]]
Row = TypeVar("Row")


class CronTable(Generic[Row]):
    """One crontab per armed row of the database, armed on start and re-armed on each change announced on
    `topic` (`changed {<id_key>}`). Subclasses say which rows are armed and when each fires."""

    topic: str
    id_key: str
    fire_failed: str  # the log line when a tick fails, with the row's id as %s
    refresh_failed: str

    def __init__(self, on_tick: TickHandler, bus: EventBus | None = None) -> None:
        self.on_tick, self.bus = on_tick, bus if bus is not None else EventBus()
        self.crons: dict[str, aiocron.Cron] = {}
        self._subscription: Subscription | None = None
        self._listener: asyncio.Task[None] | None = None

    async def armed_rows(self) -> list[Row]:
        """Every row that should have a crontab."""
        raise NotImplementedError

    async def load(self, row_id: str) -> Row | None:
        raise NotImplementedError

    def timing(self, row: Row) -> tuple[str, str | None, str]:
        """The row's id, cron expression (None while it must not fire) and time zone."""
        raise NotImplementedError

    async def start(self) -> None:
        """Arm every armed row and follow changes."""
        self._subscription = self.bus.subscribe(self.topic)
        await self._arm_all()
        self._listener = asyncio.create_task(self._listen())

    async def stop(self) -> None:
        """Disarm everything (a tick already running finishes on its own)."""
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._subscription is not None:
            self._subscription.close()
        for row_id in list(self.crons):
            self.disarm(row_id)

    async def _arm_all(self) -> None:
        for row in await self.armed_rows():
            self.arm(row)

    def arm(self, row: Row) -> None:
        """(Re)start the crontab of a row; one that must not fire is only disarmed."""
        row_id, cron, timezone = self.timing(row)
        self.disarm(row_id)
        if cron is None:
            return
        crontab = aiocron.crontab(cron, func=self._fire, args=(row_id,), start=False, tz=ZoneInfo(timezone),
                                  loop=asyncio.get_running_loop())
        crontab.start()
        self.crons[row_id] = crontab

    def disarm(self, row_id: str) -> None:
        crontab = self.crons.pop(row_id, None)
        if crontab is not None:
            crontab.stop()

    async def refresh(self, row_id: str) -> None:
        """Re-read one row and arm or disarm it."""
        row = await self.load(row_id)
        if row is None:
            self.disarm(row_id)
        else:
            self.arm(row)

    async def _fire(self, row_id: str) -> None:
        try:
            # What the tick starts is announced on this engine's bus, so its own executor wakes at once.
            with binding(self.bus):
                await self.on_tick(row_id)
        except Exception:
            log.exception(self.fire_failed, row_id)

    async def _listen(self) -> None:
        assert self._subscription is not None
        while True:
            event = await self._subscription.get()
            try:
                if event is None:  # Missed changes: re-read every row.
                    for row_id in list(self.crons):
                        await self.refresh(row_id)
                    await self._arm_all()
                elif event.kind == "changed":
                    await self.refresh(str(event.data.get(self.id_key)))
            except Exception:
                log.exception(self.refresh_failed)


class Scheduler(CronTable[Schedule]):
    """Keeps one crontab per active schedule of the database."""

    topic, id_key = SCHEDULES_TOPIC, "schedule_id"
    fire_failed, refresh_failed = "Schedule %s failed to fire", "Refreshing schedules failed"

    async def armed_rows(self) -> list[Schedule]:
        return await Schedule.filter(paused=False)

    async def load(self, row_id: str) -> Schedule | None:
        return await Schedule.get_or_none(id=row_id)

    def timing(self, row: Schedule) -> tuple[str, str | None, str]:
        return row.id, None if row.paused else row.cron, row.timezone
