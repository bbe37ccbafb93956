"""Pipeline schedules: cron expressions in a time zone, set, paused, resumed and removed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pydantic
from cronsim import CronSim, CronSimError
from pydantic_core import PydanticCustomError
from tortoise.transactions import in_transaction

from resolvers.errors import NotFound
from resolvers.ownership import load_owned
from resolvers.principal import Principal
from resolvers.validation import StrictInput
from resolvers.views.pipelines import LIVE, PipelineView
from resolvers.views.pipelines import NEXT_RUNS as NEXT_RUNS
from resolvers.views.pipelines import next_runs as next_runs
from server.engine.bus import SCHEDULES_TOPIC, Event, publish
from server.models.base import new_id
from server.models.engine import Pipeline, Schedule

READ, WRITE = "read:pipelines", "write:pipelines"


def zone_problem(name: str) -> str | None:
    """Why `name` is not a time zone, or None when it is one."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return f"Unknown time zone '{name}'"
    return None


def cron_problem(cron: str) -> str | None:
    """Why `cron` is not a 5-field (or seconds-first 6-field, one second) cron expression, or None when it is one."""
    fields = cron.split()
    if len(fields) not in (5, 6):
        return "Expected 5 fields (minute hour day month weekday)"
    if len(fields) == 6 and not (fields[0].isdigit() and int(fields[0]) < 60):
        # Each firing makes a job: a schedule may fire at most once a minute, at the second it names.
        return "The seconds field must be one number from 0 to 59 (a schedule fires at most once a minute)"
    try:
        # Whether an expression is valid does not depend on the zone it is read in.
        CronSim(cron, datetime.now(UTC))
    except (CronSimError, ValueError, KeyError) as exc:
        return f"Invalid cron expression: {exc}"
    return None


def _refuse(problem: str | None, value: str) -> str:
    if problem is not None:
        # The reason as it is, so both surfaces name the field and say why in the same words.
        raise PydanticCustomError("schedule", "{reason}", {"reason": problem})
    return value


class ScheduleSpec(StrictInput):
    """A cron schedule in a time zone; an instance always holds a valid expression and a known zone."""

    cron: str = pydantic.Field(min_length=1, max_length=120)
    timezone: str = pydantic.Field(default="UTC", min_length=1, max_length=64)
    paused: bool = False

    @pydantic.field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        return _refuse(cron_problem(value), value)

    @pydantic.field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return _refuse(zone_problem(value), value)


def tick_time(cron: str, timezone: str, now: datetime | None = None) -> datetime:
    """The cron time a firing belongs to: the latest match at or before now, rounded to the second.

    Every process computes the same value for one tick, which makes (schedule, tick) a unique claim.
    """
    rounded = ((now or datetime.now(UTC)) + timedelta(milliseconds=500)).replace(microsecond=0)
    # A start with microseconds makes cronsim consider the whole second itself as the first candidate.
    start = rounded.replace(microsecond=1).astimezone(ZoneInfo(timezone))
    return next(CronSim(cron, start, reverse=True)).astimezone(UTC)


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


async def set_schedule(principal: Principal, pipeline_id: str, spec: ScheduleSpec) -> PipelineView:
    """Schedule a pipeline (replacing its schedule); the pipeline with it. Raises NotFound."""
    principal.require(WRITE)
    pipeline = await load_owned(Pipeline, "pipeline", principal, pipeline_id, **LIVE)
    async with in_transaction():
        row = await store_schedule(pipeline, spec)
    await announce(row.id, pipeline.id)
    return PipelineView.from_row(pipeline, row)


async def _existing(principal: Principal, pipeline_id: str) -> tuple[Pipeline, Schedule]:
    pipeline = await load_owned(Pipeline, "pipeline", principal, pipeline_id, **LIVE)
    row = await Schedule.get_or_none(pipeline_id=pipeline.id)
    if row is None:
        raise NotFound("schedule", pipeline_id)
    return pipeline, row


async def pause_schedule(principal: Principal, pipeline_id: str, paused: bool = True) -> PipelineView:
    """Pause (or resume) a pipeline's schedule; the pipeline with it. Raises NotFound."""
    principal.require(WRITE)
    pipeline, row = await _existing(principal, pipeline_id)
    row.paused = paused
    await row.save(update_fields=["paused", "updated_at"])
    await announce(row.id, pipeline_id)
    return PipelineView.from_row(pipeline, row)


async def resume_schedule(principal: Principal, pipeline_id: str) -> PipelineView:
    """Resume a paused schedule; the pipeline with it. Raises NotFound."""
    return await pause_schedule(principal, pipeline_id, paused=False)


async def remove_schedule(principal: Principal, pipeline_id: str) -> PipelineView:
    """Remove a pipeline's schedule; the pipeline without it. Raises NotFound."""
    principal.require(WRITE)
    pipeline, row = await _existing(principal, pipeline_id)
    await row.delete()
    await announce(row.id, pipeline_id)
    return PipelineView.from_row(pipeline, None)


async def schedules_of(pipeline_ids: list[str]) -> dict[str, Schedule]:
    """The schedules of these pipelines by pipeline id, in one query (the callers own the pipelines)."""
    if not pipeline_ids:
        return {}
    rows = await Schedule.filter(pipeline_id__in=pipeline_ids)
    return {row.pipeline_id: row for row in rows}  # type: ignore[attr-defined]
