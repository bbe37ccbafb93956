"""Pipelines, their versions and schedules."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import PrivateAttr

from docc.models.common import Input, Model

LogLevel = Literal["debug", "info", "warning", "error"]


class Schedule(Model):
    cron: str
    timezone: str
    paused: bool
    next_runs: list[datetime]
    updated_at: datetime | None = None


class ScheduleAck(Model):
    pipeline_id: str
    paused: bool


class PipelineRetries(Model):
    """Attempt n+1 starts `delay * backoff**(n-1)` seconds (at most `max_delay`) after attempt n failed."""

    count: int
    delay: float = 0.0
    backoff: float = 2.0
    max_delay: float | None = None


class Pipeline(Model):
    id: str
    name: str
    description: str
    steps: list[dict[str, Any]]
    version: int
    schedule: Schedule | None = None
    # What a run does while another run of the pipeline is active: allow, queue, skip or replace.
    concurrency: str = "queue"
    retries: PipelineRetries | None = None
    # Seconds an attempt may run before it is cancelled and marked timed_out.
    timeout: float | None = None
    created_by: str | None = None
    created_at: datetime
    updated_at: datetime
    # The lowest level its jobs' logs store (text, as a newer server may add one); None: DOCC_JOB_LOG_LEVEL.
    log_level: str | None = None
    _etag: str | None = PrivateAttr(default=None)

    @property
    def etag(self) -> str | None:
        """The `ETag` of this version: pass it as `if_match=` to refuse overwriting a newer version."""
        return self._etag


class PipelineAck(Model):
    """What a key holding write:pipelines but not read:pipelines learns of its write."""

    id: str
    version: int


class PipelineVersion(Model):
    version: int
    name: str
    description: str
    steps: list[dict[str, Any]]
    created_by: str | None = None
    created_at: datetime


class ScheduleSpec(Input):
    cron: str
    timezone: str = "UTC"
    paused: bool = False


class PipelineRetriesSpec(Input):
    count: int
    # Seconds, or a duration such as "90s", "15m".
    delay: float | str = 0.0
    backoff: float = 2.0
    max_delay: float | str | None = None


class PipelineCreate(Input):
    name: str
    steps: list[dict[str, Any]]
    description: str = ""
    schedule: ScheduleSpec | None = None
    log_level: LogLevel | None = None
    concurrency: Literal["allow", "queue", "skip", "replace"] = "queue"
    retries: PipelineRetriesSpec | None = None
    timeout: float | str | None = None


class PipelineUpdate(Input):
    name: str | None = None
    description: str | None = None
    steps: list[dict[str, Any]] | None = None
    schedule: ScheduleSpec | None = None
    log_level: LogLevel | None = None
    concurrency: Literal["allow", "queue", "skip", "replace"] | None = None
    retries: PipelineRetriesSpec | None = None
    timeout: float | str | None = None
