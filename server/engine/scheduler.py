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
from typing import Any
from zoneinfo import ZoneInfo

import aiocron

from server.engine.bus import SCHEDULES_TOPIC, EventBus, Subscription, binding
from server.models.engine import Schedule

log = logging.getLogger("docc.scheduler")

# Called with a schedule id when its cron fires; makes the tick's job (or nothing when another process did).
TickHandler = Callable[[str], Awaitable[Any]]


class Scheduler:
    """Keeps one crontab per active schedule of the database."""

    def __init__(self, on_tick: TickHandler, bus: EventBus | None = None) -> None:
        self.on_tick, self.bus = on_tick, bus if bus is not None else EventBus()
        self.crons: dict[str, aiocron.Cron] = {}
        self._subscription: Subscription | None = None
        self._listener: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Arm every active schedule and follow changes."""
        self._subscription = self.bus.subscribe(SCHEDULES_TOPIC)
        for schedule in await Schedule.filter(paused=False):
            self.arm(schedule)
        self._listener = asyncio.create_task(self._listen())

    async def stop(self) -> None:
        """Disarm everything (a tick already running finishes on its own)."""
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._subscription is not None:
            self._subscription.close()
        for schedule_id in list(self.crons):
            self.disarm(schedule_id)

    def arm(self, schedule: Schedule) -> None:
        """(Re)start the crontab of a schedule; a paused one is only disarmed."""
        self.disarm(schedule.id)
        if schedule.paused:
            return
        cron = aiocron.crontab(schedule.cron, func=self._fire, args=(schedule.id,), start=False,
                               tz=ZoneInfo(schedule.timezone), loop=asyncio.get_running_loop())
        cron.start()
        self.crons[schedule.id] = cron

    def disarm(self, schedule_id: str) -> None:
        cron = self.crons.pop(schedule_id, None)
        if cron is not None:
            cron.stop()

    async def refresh(self, schedule_id: str) -> None:
        """Re-read one schedule and arm or disarm it."""
        schedule = await Schedule.get_or_none(id=schedule_id)
        if schedule is None:
            self.disarm(schedule_id)
        else:
            self.arm(schedule)

    async def _fire(self, schedule_id: str) -> None:
        try:
            # The tick's new job is announced on this engine's bus, so its own executor wakes at once.
            with binding(self.bus):
                await self.on_tick(schedule_id)
        except Exception:
            log.exception("Schedule %s failed to fire", schedule_id)

    async def _listen(self) -> None:
        assert self._subscription is not None
        while True:
            event = await self._subscription.get()
            try:
                if event is None:  # Missed changes: re-read every schedule.
                    for schedule_id in list(self.crons):
                        await self.refresh(schedule_id)
                    for schedule in await Schedule.filter(paused=False):
                        self.arm(schedule)
                elif event.kind == "changed":
                    await self.refresh(str(event.data.get("schedule_id")))
            except Exception:
                log.exception("Refreshing schedules failed")
