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


class Pipeline(Model):
    id: str
    name: str
    description: str
    steps: list[dict[str, Any]]
    version: int
    schedule: Schedule | None = None
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


class PipelineCreate(Input):
    name: str
    steps: list[dict[str, Any]]
    description: str = ""
    schedule: ScheduleSpec | None = None
    log_level: LogLevel | None = None


class PipelineUpdate(Input):
    name: str | None = None
    description: str | None = None
    steps: list[dict[str, Any]] | None = None
    schedule: ScheduleSpec | None = None
    log_level: LogLevel | None = None
