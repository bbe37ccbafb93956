"""Read models of pipelines: a pipeline with its schedule (next runs computed here), its saved versions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from cronsim import CronSim

from server.engine.dataplane import referenced_dataset_ids
from server.engine.dataplane.validation import RESERVED_TYPES
from server.engine.dataplane.validation import STEP_TYPES as ALL_STEP_TYPES
from server.models.engine import Pipeline, PipelineVersion, Schedule

NEXT_RUNS = 5
# The filter of pipelines that were not deleted: a deleted one exists only for the history of its jobs.
LIVE: dict[str, Any] = {"deleted_at__isnull": True}
# The step types a pipeline may use now: the data plane validates steps, so its list is the one list.
STEP_TYPES = tuple(kind for kind in ALL_STEP_TYPES if kind not in RESERVED_TYPES)


def next_runs(cron: str, timezone: str, count: int = NEXT_RUNS, now: datetime | None = None) -> list[datetime]:
    """The next `count` fire times, in the schedule's zone (cronsim applies daylight-saving rules)."""
    tz = ZoneInfo(timezone)
    start = (now or datetime.now(UTC)).astimezone(tz)
    runs = CronSim(cron, start)
    return [next(runs) for _ in range(count)]


# Not slotted: `next_runs` is cached in the instance's dict on first read (frozen fields stay frozen).
@dataclass(frozen=True)
class ScheduleView:
    """A pipeline's cron schedule and, unless paused, its next fire times in its zone, counted from `as_of`."""

    id: str
    pipeline_id: str
    cron: str
    timezone: str
    paused: bool
    created_at: datetime
    updated_at: datetime
    as_of: datetime

    @cached_property
    def next_runs(self) -> tuple[datetime, ...]:
        """Computed once, when first read: cronsim costs a few hundred microseconds a schedule, which a
        list that does not show schedules (a GraphQL selection without them) should not pay."""
        return () if self.paused else tuple(next_runs(self.cron, self.timezone, now=self.as_of))

    @classmethod
    def from_row(cls, row: Schedule, now: datetime | None = None) -> ScheduleView:
        return cls(id=row.id, pipeline_id=row.pipeline_id, cron=row.cron, timezone=row.timezone,  # type: ignore[attr-defined]
                   paused=row.paused, created_at=row.created_at, updated_at=row.updated_at,
                   as_of=now or datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class RetryView:
    """A pipeline's retry policy: attempt n+1 starts `delay * backoff**(n-1)` seconds (at most `max_delay`)
    after attempt n failed or timed out, `count` times at most."""

    count: int
    delay_s: float
    backoff: float
    max_delay_s: float | None

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> RetryView | None:
        if not data:
            return None
        return cls(count=int(data.get("count") or 0), delay_s=float(data.get("delay") or 0.0),
                   backoff=float(data.get("backoff") or 1.0), max_delay_s=data.get("max_delay"))


@dataclass(frozen=True, slots=True)
class PipelineView:
    """A pipeline's current definition, its schedule (or None) and the datasets its steps name.

    Steps stay the JSON objects they were saved as (both surfaces show them as given).
    """

    id: str
    name: str
    description: str
    steps: tuple[dict[str, Any], ...]
    version: int
    created_by: str
    created_at: datetime
    updated_at: datetime
    schedule: ScheduleView | None
    dataset_ids: tuple[str, ...]
    # The lowest level its jobs' logs store; None: the server's DOCC_JOB_LOG_LEVEL.
    log_level: str | None
    concurrency: str
    retries: RetryView | None
    timeout_s: float | None

    @classmethod
    def from_row(cls, row: Pipeline, schedule: Schedule | None, now: datetime | None = None) -> PipelineView:
        return cls(id=row.id, name=row.name, description=row.description, steps=tuple(row.steps),
                   version=row.version, created_by=row.created_by, created_at=row.created_at,
                   updated_at=row.updated_at,
                   schedule=ScheduleView.from_row(schedule, now) if schedule is not None else None,
                   dataset_ids=tuple(referenced_dataset_ids(row.steps)), log_level=row.log_level,
                   concurrency=row.concurrency, retries=RetryView.from_dict(row.retries), timeout_s=row.timeout_s)


@dataclass(frozen=True, slots=True)
class PipelineVersionView:
    """One saved version of a pipeline's definition."""

    id: str
    version: int
    name: str
    description: str
    steps: tuple[dict[str, Any], ...]
    created_by: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: PipelineVersion) -> PipelineVersionView:
        return cls(id=row.id, version=row.version, name=row.name, description=row.description,
                   steps=tuple(row.steps), created_by=row.created_by, created_at=row.created_at)
