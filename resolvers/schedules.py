"""Pipeline schedules: cron expressions in a time zone, set, paused, resumed and removed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pydantic
from cronsim import CronSim, CronSimError
from tortoise.transactions import in_transaction

from resolvers.errors import NotFound, ValidationError
from resolvers.ownership import require_id
from resolvers.principal import Principal
from resolvers.validation import StrictInput, parse
from server.engine.bus import SCHEDULES_TOPIC, Event, publish
from server.models.base import new_id
from server.models.engine import Pipeline, Schedule

READ, WRITE = "read:pipelines", "write:pipelines"
NEXT_RUNS = 5


class ScheduleSpec(StrictInput):
    cron: str = pydantic.Field(min_length=1, max_length=120)
    timezone: str = pydantic.Field(default="UTC", min_length=1, max_length=64)
    paused: bool = False


def zone(name: str, field: str = "schedule.timezone") -> ZoneInfo:
    """The time zone named `name`; raises ValidationError."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValidationError("Invalid schedule", field=field, reason=f"Unknown time zone '{name}'") from None


def check_cron(cron: str, tz: ZoneInfo, field: str = "schedule.cron") -> None:
    """Raise ValidationError unless `cron` is a 5-field (or seconds-first 6-field) cron expression."""
    if len(cron.split()) not in (5, 6):
        raise ValidationError("Invalid schedule", field=field,
                              reason="Expected 5 fields (minute hour day month weekday)")
    try:
        CronSim(cron, datetime.now(tz))
    except (CronSimError, ValueError, KeyError) as exc:
        raise ValidationError("Invalid schedule", field=field, reason=f"Invalid cron expression: {exc}") from None


def parse_schedule(data: Any, prefix: str = "schedule") -> ScheduleSpec:
    """A validated schedule (cron and time zone checked); raises ValidationError."""
    spec = parse(ScheduleSpec, data, "schedule", prefix)
    check_cron(spec.cron, zone(spec.timezone, f"{prefix}.timezone"), f"{prefix}.cron")
    return spec


def next_runs(cron: str, timezone: str, count: int = NEXT_RUNS, now: datetime | None = None) -> list[datetime]:
    """The next `count` fire times, in the schedule's zone (cronsim applies daylight-saving rules)."""
    tz = ZoneInfo(timezone)
    start = (now or datetime.now(UTC)).astimezone(tz)
    runs = CronSim(cron, start)
    return [next(runs) for _ in range(count)]


def tick_time(cron: str, timezone: str, now: datetime | None = None) -> datetime:
    """The cron time a firing belongs to: the latest match at or before now, rounded to the second.

    Every process computes the same value for one tick, which makes (schedule, tick) a unique claim.
    """
    rounded = ((now or datetime.now(UTC)) + timedelta(milliseconds=500)).replace(microsecond=0)
    # A start with microseconds makes cronsim consider the whole second itself as the first candidate.
    start = rounded.replace(microsecond=1).astimezone(ZoneInfo(timezone))
    return next(CronSim(cron, start, reverse=True)).astimezone(UTC)


async def _pipeline(principal: Principal, pipeline_id: str) -> Pipeline:
    row = await Pipeline.get_or_none(id=require_id("pipeline", pipeline_id), workspace_id=principal.workspace_id)
    if row is None:
        raise NotFound("pipeline", pipeline_id)
    return row


async def announce(schedule_id: str, pipeline_id: str) -> None:
    """Tell every scheduler that a schedule changed (it re-reads it)."""
    await publish(Event(SCHEDULES_TOPIC, "changed", {"schedule_id": schedule_id, "pipeline_id": pipeline_id}))


async def store_schedule(pipeline: Pipeline, spec: ScheduleSpec) -> Schedule:
    """Create or replace the schedule of a pipeline (call inside the caller's transaction)."""
    row = await Schedule.get_or_none(pipeline_id=pipeline.id)
    if row is None:
        return await Schedule.create(id=new_id("sch"), workspace_id=pipeline.workspace_id, pipeline_id=pipeline.id,
                                     cron=spec.cron, timezone=spec.timezone, paused=spec.paused)
    row.cron, row.timezone, row.paused = spec.cron, spec.timezone, spec.paused
    await row.save()
    return row


async def set_schedule(principal: Principal, pipeline_id: str, data: Any) -> Schedule:
    """Schedule a pipeline (replacing its schedule); raises NotFound, ValidationError."""
    principal.require(WRITE)
    spec = parse_schedule(data, prefix="body")
    pipeline = await _pipeline(principal, pipeline_id)
    async with in_transaction():
        row = await store_schedule(pipeline, spec)
    await announce(row.id, pipeline.id)
    return row


async def _existing(principal: Principal, pipeline_id: str) -> Schedule:
    pipeline = await _pipeline(principal, pipeline_id)
    row = await Schedule.get_or_none(pipeline_id=pipeline.id)
    if row is None:
        raise NotFound("schedule", pipeline_id)
    return row


async def pause_schedule(principal: Principal, pipeline_id: str, paused: bool = True) -> Schedule:
    """Pause (or resume) a pipeline's schedule; raises NotFound."""
    principal.require(WRITE)
    row = await _existing(principal, pipeline_id)
    row.paused = paused
    await row.save(update_fields=["paused", "updated_at"])
    await announce(row.id, pipeline_id)
    return row


async def resume_schedule(principal: Principal, pipeline_id: str) -> Schedule:
    """Resume a paused schedule; raises NotFound."""
    return await pause_schedule(principal, pipeline_id, paused=False)


async def remove_schedule(principal: Principal, pipeline_id: str) -> None:
    """Remove a pipeline's schedule; raises NotFound."""
    principal.require(WRITE)
    row = await _existing(principal, pipeline_id)
    await row.delete()
    await announce(row.id, pipeline_id)


async def get_schedules(principal: Principal, pipeline_ids: list[str]) -> list[Schedule | None]:
    """Schedules of pipelines in the order asked, None where unscheduled (for DataLoaders)."""
    principal.require(READ)
    rows = await Schedule.filter(pipeline_id__in=pipeline_ids, workspace_id=principal.workspace_id)
    by_pipeline = {row.pipeline_id: row for row in rows}  # type: ignore[attr-defined]
    return [by_pipeline.get(pipeline_id) for pipeline_id in pipeline_ids]
