"""The scheduler: one aiocron entry per active schedule, re-armed from the database on start and on change.

Several processes may run a scheduler on one database: each fires every tick, and the unique
(schedule_id, scheduled_for) of jobs lets exactly one of them create the tick's job.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from zoneinfo import ZoneInfo

import aiocron

from resolvers.jobs import fire_schedule
from resolvers.schedules import tick_time
from server.engine.bus import BUS, SCHEDULES_TOPIC, EventBus, Subscription
from server.models.engine import Job, Schedule

log = logging.getLogger("docc.scheduler")


async def tick(schedule_id: str, now: datetime | None = None) -> Job | None:
    """Make the job of the tick due at `now` (default: the current time); None if paused or already made."""
    schedule = await Schedule.get_or_none(id=schedule_id)
    if schedule is None or schedule.paused:
        return None
    job = await fire_schedule(schedule.id, tick_time(schedule.cron, schedule.timezone, now))
    if job is not None:
        log.info("Schedule %s made job %s", schedule.id, job.id, extra={"job_id": job.id})
    return job


class Scheduler:
    """Keeps one crontab per active schedule of the database."""

    def __init__(self, bus: EventBus = BUS) -> None:
        self.bus = bus
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
            await tick(schedule_id)
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
