"""Cron schedules of quality rules: one crontab per enabled rule with a schedule, re-armed on change.

The same guarantees as pipeline schedules: every process running schedules fires every tick, and the
unique (rule, scheduled_for) of results lets exactly one of them start the tick's run. What a tick does
is the domain's, handed in where the app is assembled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from zoneinfo import ZoneInfo

import aiocron

from server.engine.bus import EventBus, Subscription, binding
from server.engine.scheduler import TickHandler
from server.models.quality import QualityRule

log = logging.getLogger("docc.scheduler")

QUALITY_SCHEDULES_TOPIC = "quality_schedules"  # changed {rule_id}


class RuleScheduler:
    """Keeps one crontab per enabled, scheduled quality rule of the database."""

    def __init__(self, on_tick: TickHandler, bus: EventBus) -> None:
        self.on_tick, self.bus = on_tick, bus
        self.crons: dict[str, aiocron.Cron] = {}
        self._subscription: Subscription | None = None
        self._listener: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._subscription = self.bus.subscribe(QUALITY_SCHEDULES_TOPIC)
        await self._arm_all()
        self._listener = asyncio.create_task(self._listen())

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._subscription is not None:
            self._subscription.close()
        for rule_id in list(self.crons):
            self.disarm(rule_id)

    async def _arm_all(self) -> None:
        for rule in await QualityRule.filter(enabled=True, cron__not_isnull=True):
            self.arm(rule)

    def arm(self, rule: QualityRule) -> None:
        """(Re)start the crontab of a rule; a disabled or unscheduled one is only disarmed."""
        self.disarm(rule.id)
        if not rule.enabled or not rule.cron:
            return
        cron = aiocron.crontab(rule.cron, func=self._fire, args=(rule.id,), start=False,
                               tz=ZoneInfo(rule.timezone), loop=asyncio.get_running_loop())
        cron.start()
        self.crons[rule.id] = cron

    def disarm(self, rule_id: str) -> None:
        cron = self.crons.pop(rule_id, None)
        if cron is not None:
            cron.stop()

    async def refresh(self, rule_id: str) -> None:
        rule = await QualityRule.get_or_none(id=rule_id)
        if rule is None:
            self.disarm(rule_id)
        else:
            self.arm(rule)

    async def _fire(self, rule_id: str) -> None:
        try:
            with binding(self.bus):  # The run is announced on this engine's bus: its runner wakes at once.
                await self.on_tick(rule_id)
        except Exception:
            log.exception("The schedule of quality rule %s failed to fire", rule_id)

    async def _listen(self) -> None:
        assert self._subscription is not None
        while True:
            event = await self._subscription.get()
            try:
                if event is None:  # Missed changes: re-read every rule.
                    for rule_id in list(self.crons):
                        await self.refresh(rule_id)
                    await self._arm_all()
                elif event.kind == "changed":
                    await self.refresh(str(event.data.get("rule_id")))
            except Exception:
                log.exception("Refreshing quality schedules failed")
