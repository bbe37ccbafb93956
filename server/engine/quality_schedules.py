"""Cron schedules of quality rules: one crontab per enabled rule with a schedule, re-armed on change.

The same guarantees as pipeline schedules: every process running schedules fires every tick, and the
unique (rule, scheduled_for) of results lets exactly one of them start the tick's run. What a tick does
is the domain's, handed in where the app is assembled.
"""

from __future__ import annotations

from server.engine.scheduler import CronTable
from server.models.quality import QualityRule

QUALITY_SCHEDULES_TOPIC = "quality_schedules"  # changed {rule_id}


class RuleScheduler(CronTable[QualityRule]):
    """Keeps one crontab per enabled, scheduled quality rule of the database."""

    topic, id_key = QUALITY_SCHEDULES_TOPIC, "rule_id"
    fire_failed = "The schedule of quality rule %s failed to fire"
    refresh_failed = "Refreshing quality schedules failed"

    async def armed_rows(self) -> list[QualityRule]:
        return await QualityRule.filter(enabled=True, cron__not_isnull=True)

    async def load(self, row_id: str) -> QualityRule | None:
        return await QualityRule.get_or_none(id=row_id)

    def timing(self, row: QualityRule) -> tuple[str, str | None, str]:
        return row.id, row.cron if row.enabled and row.cron else None, row.timezone
