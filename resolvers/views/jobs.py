"""Read models of jobs: a job with its steps and progress in percent, and its log lines.

The vocabularies (job statuses, triggers) are the ones the store and the engine use: the engine may not
import the domain, so they are defined beside the tables and exposed to the surfaces from here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from server.engine.bus import Event
from server.models.engine import (
    CONCURRENCY_POLICIES,
    FINISHED,
    JOB_STATUSES,
    TRIGGERS,
    Job,
    JobAttempt,
    JobLog,
    JobStep,
)

__all__ = ["ATTEMPT_COLUMNS", "CONCURRENCY_POLICIES", "FINISHED", "JOB_COLUMNS", "JOB_STATUSES", "STEP_COLUMNS",
           "STEP_STATUSES", "TRIGGERS", "UNFINISHED", "AttemptView", "JobStepView", "JobView", "LogLineView"]
# A job that is not finished yet holds its pipeline; a step a retry does not run again is skipped.
UNFINISHED = tuple(status for status in JOB_STATUSES if status not in FINISHED)
STEP_STATUSES = ("pending", "running", "succeeded", "failed", "cancelled", "skipped")


# The columns JobView.from_values reads, in its order; a step's and an attempt's are led by their job's id and
# then follow JobStepView's and AttemptView's fields.
JOB_COLUMNS = ("id", "pipeline_id", "pipeline_version", "status", "trigger", "retry_of", "from_step", "scheduled_for",
               "created_by", "created_at", "started_at", "finished_at", "progress", "statistics", "error",
               "cancel_requested", "attempts", "waiting_for", "run_after")
STEP_COLUMNS = ("job_id", "step_id", "type", "status", "rows_in", "rows_out", "duration_s", "error", "started_at",
                "finished_at")
ATTEMPT_COLUMNS = ("job_id", "number", "status", "error", "started_at", "finished_at")


@dataclass(frozen=True, slots=True)
class JobStepView:
    """What one step of a job did."""

    step_id: str
    type: str
    status: str
    rows_in: int | None
    rows_out: int | None
    duration_s: float | None
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def from_row(cls, row: JobStep) -> JobStepView:
        return cls(step_id=row.step_id, type=row.type, status=row.status, rows_in=row.rows_in,
                   rows_out=row.rows_out, duration_s=row.duration_s, error=row.error, started_at=row.started_at,
                   finished_at=row.finished_at)


@dataclass(frozen=True, slots=True)
class AttemptView:
    """One run of a job under its retry policy."""

    number: int
    status: str
    error: str | None
    started_at: datetime
    finished_at: datetime | None

    @classmethod
    def from_row(cls, row: JobAttempt) -> AttemptView:
        return cls(number=row.number, status=row.status, error=row.error, started_at=row.started_at,
                   finished_at=row.finished_at)


@dataclass(frozen=True, slots=True)
class JobView:
    """A run of a pipeline with its steps in order, its duration and its progress in percent."""

    id: str
    pipeline_id: str
    pipeline_version: int
    status: str
    trigger: str
    retry_of: str | None
    from_step: str | None
    scheduled_for: datetime | None
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None
    percent_complete: float
    statistics: dict[str, Any]
    error: str | None
    cancel_requested: bool
    # How many times a process claimed the job (lease takeovers included); `attempts` are the runs.
    claims: int
    steps: tuple[JobStepView, ...]
    attempts: tuple[AttemptView, ...]
    # Why a queued or running job waits (a slot, its pipeline's other run, a destination's writer).
    waiting_for: str | None
    # When a job waiting for its next attempt may start.
    next_attempt_at: datetime | None
    # Its pipeline was deleted: the job stays readable as history, the pipeline is gone.
    pipeline_deleted: bool = False

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @classmethod
    def from_values(cls, values: tuple[Any, ...], steps: Iterable[tuple[Any, ...]],
                    attempts: Iterable[tuple[Any, ...]], pipeline_deleted: bool = False) -> JobView:
        """From plain rows (server.models.rows): the job's JOB_COLUMNS, its steps' STEP_COLUMNS in position
        order and its attempts' ATTEMPT_COLUMNS by number (each step and attempt row led by the job id)."""
        (id_, pipeline_id, pipeline_version, status, trigger, retry_of, from_step, scheduled_for, created_by,
         created_at, started_at, finished_at, progress, statistics, error, cancel_requested, claims, waiting_for,
         run_after) = values
        duration = (finished_at - started_at).total_seconds() if finished_at and started_at else None
        return cls(id=id_, pipeline_id=pipeline_id, pipeline_version=pipeline_version, status=status,
                   trigger=trigger, retry_of=retry_of, from_step=from_step, scheduled_for=scheduled_for,
                   created_by=created_by, created_at=created_at, started_at=started_at, finished_at=finished_at,
                   duration_s=duration, percent_complete=round(progress * 100, 1), statistics=statistics,
                   error=error, cancel_requested=cancel_requested, claims=claims,
                   steps=tuple(JobStepView(*step[1:]) for step in steps),
                   attempts=tuple(AttemptView(*attempt[1:]) for attempt in attempts),
                   waiting_for=waiting_for, next_attempt_at=run_after if status == "pending" else None,
                   pipeline_deleted=pipeline_deleted)

    @classmethod
    def from_row(cls, row: Job, steps: Iterable[JobStep], attempts: Iterable[JobAttempt],
                 pipeline_deleted: bool = False) -> JobView:
        """`steps` are the job's step records in position order, `attempts` its attempts by number."""
        duration = (row.finished_at - row.started_at).total_seconds() if row.finished_at and row.started_at else None
        return cls(id=row.id, pipeline_id=row.pipeline_id, pipeline_version=row.pipeline_version,  # type: ignore[attr-defined]
                   status=row.status, trigger=row.trigger, retry_of=row.retry_of, from_step=row.from_step,
                   scheduled_for=row.scheduled_for, created_by=row.created_by, created_at=row.created_at,
                   started_at=row.started_at, finished_at=row.finished_at, duration_s=duration,
                   percent_complete=round(row.progress * 100, 1), statistics=row.statistics, error=row.error,
                   cancel_requested=row.cancel_requested, claims=row.attempts,
                   steps=tuple(JobStepView.from_row(step) for step in steps),
                   attempts=tuple(AttemptView.from_row(attempt) for attempt in attempts),
                   waiting_for=row.waiting_for, next_attempt_at=row.run_after if row.status == "pending" else None,
                   pipeline_deleted=pipeline_deleted)


@dataclass(frozen=True, slots=True)
class LogLineView:
    """One stored log line of a job (its secrets were masked before it was stored).

    A live line is one object shared by every follower of the job in this process (see `shared`); each
    surface keeps in `memo` what it derives from the line (its bytes on the wire, its GraphQL result), so
    that work is done once per line, not once per follower.
    """

    seq: int
    time: datetime
    level: str
    step_id: str | None
    message: str
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_row(cls, row: JobLog) -> LogLineView:
        return cls(row.seq, row.time, row.level, row.step_id, row.message)

    @classmethod
    def from_event(cls, event: Event) -> LogLineView:
        data = event.data
        return cls(data["seq"], datetime.fromisoformat(data["time"]), data["level"], data.get("step_id"),
                   data["message"])

    @classmethod
    def shared(cls, event: Event) -> LogLineView:
        """The line an event carries, made once for every subscriber that received this event."""
        line = event.memo.get("line")
        if line is None:
            line = event.memo["line"] = cls.from_event(event)
        return line
