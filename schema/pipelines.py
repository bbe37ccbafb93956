"""GraphQL types of pipelines, schedules and jobs; relations load through the request's DataLoaders."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from resolvers import jobs as jobs_domain
from resolvers import pipelines as domain
from resolvers.views.jobs import (
    CONCURRENCY_POLICIES,
    JOB_STATUSES,
    STEP_STATUSES,
    TRIGGERS,
    AttemptView,
    JobStepView,
    JobView,
    LogLineView,
)
from resolvers.views.pipelines import STEP_TYPES, PipelineVersionView, PipelineView, RetryView, ScheduleView
from schema.context import Info, Loaders
from schema.datasets import Dataset
from schema.enums import domain_enum
from schema.pagination import Connection, connection, page_request
from schema.permissions import needs


def one_of(values: tuple[str, ...]) -> str:
    """`a, b or c.`: the domain's values in a description, for the fields kept as strings."""
    return f"{', '.join(values[:-1])} or {values[-1]}."


JobStatus = domain_enum("JobStatus", JOB_STATUSES, "Where a job is in its life.")
JobTrigger = domain_enum("JobTrigger", TRIGGERS, "What started a job.")
LogLevel = domain_enum("LogLevel", jobs_domain.LOG_LEVELS, "Severity of a job log line, least severe first.")
ConcurrencyPolicy = domain_enum("ConcurrencyPolicy", CONCURRENCY_POLICIES,
                                "What a run does while another run of its pipeline is active.")


@strawberry.type(description="How often a failed or timed-out attempt runs again, and after how long.")
class RetryPolicy:
    count: int = strawberry.field(description="Attempts after the first, at most.")
    delay: float = strawberry.field(description="Seconds before the second attempt.")
    backoff: float = strawberry.field(description="Each further delay is the previous one times this.")
    max_delay: float | None = strawberry.field(description="Seconds no delay exceeds; null: no cap.")

    @classmethod
    def from_view(cls, view: RetryView) -> RetryPolicy:
        return cls(count=view.count, delay=view.delay_s, backoff=view.backoff, max_delay=view.max_delay_s)


@strawberry.type(description="One step of a pipeline.")
class PipelineStep:
    id: str = strawberry.field(description="Unique in the pipeline.")
    type: str = strawberry.field(description=one_of(STEP_TYPES))
    config: JSON = strawberry.field(description="The step's options, as in REST.")
    depends_on: list[str] | None = strawberry.field(description="Steps this one runs after; null: the previous one.")

    @classmethod
    def from_dict(cls, step: dict[str, Any]) -> PipelineStep:
        return cls(id=step["id"], type=step["type"], config=step.get("config", {}), depends_on=step.get("depends_on"))


@strawberry.type(description="A cron schedule in a time zone.")
class PipelineSchedule:
    cron: str = strawberry.field(description="Cron expression (5 fields, or 6 with seconds first).")
    timezone: str = strawberry.field(description="IANA time zone the expression is read in.")
    paused: bool = strawberry.field(description="A paused schedule makes no jobs.")
    next_runs: list[datetime] = strawberry.field(description="The next fire times (none while paused).")

    @classmethod
    def from_view(cls, view: ScheduleView) -> PipelineSchedule:
        return cls(cron=view.cron, timezone=view.timezone, paused=view.paused, next_runs=list(view.next_runs))


@strawberry.type(description="A saved version of a pipeline's definition.")
class PipelineVersion:
    version: int = strawberry.field(description="1, then one more per saved change.")
    name: str = strawberry.field(description="Name at that version.")
    description: str = strawberry.field(description="Description at that version.")
    steps: list[PipelineStep] = strawberry.field(description="Steps at that version.")
    created_by: str = strawberry.field(description="Who saved it.")
    created_at: datetime = strawberry.field(description="When it was saved.")

    @classmethod
    def from_view(cls, view: PipelineVersionView) -> PipelineVersion:
        return cls(version=view.version, name=view.name, description=view.description,
                   steps=[PipelineStep.from_dict(s) for s in view.steps], created_by=view.created_by,
                   created_at=view.created_at)


@strawberry.type(description="A pipeline: steps that move and clean data, run on demand or on schedule.")
class Pipeline:
    id: strawberry.ID = strawberry.field(description="Opaque id, `pl_...`.")
    name: str = strawberry.field(description="Unique in the workspace.")
    description: str = strawberry.field(description="Free text.")
    steps: list[PipelineStep] = strawberry.field(description="The current steps.")
    version: int = strawberry.field(description="Current version; pass as expectedVersion.")
    created_by: str = strawberry.field(description="Who created it.")
    created_at: datetime = strawberry.field(description="Creation time.")
    updated_at: datetime = strawberry.field(description="Last change.")
    log_level: LogLevel | None = strawberry.field(
        description="The lowest level its jobs' logs store; null: the server's DOCC_JOB_LOG_LEVEL.")
    concurrency: ConcurrencyPolicy = strawberry.field(description="What a run does while another is active.")
    retries: RetryPolicy | None = strawberry.field(description="The retry policy; null: no retries.")
    timeout: float | None = strawberry.field(description="Seconds an attempt may run; null: no limit of its own.")
    view: strawberry.Private[PipelineView]
    # Set under a subscription event (a job's pipeline): that event's own loaders, never the socket's.
    loaders: strawberry.Private[Loaders | None] = None

    @classmethod
    def from_view(cls, view: PipelineView, loaders: Loaders | None = None) -> Pipeline:
        return cls(id=strawberry.ID(view.id), name=view.name, description=view.description,
                   steps=[PipelineStep.from_dict(s) for s in view.steps], version=view.version,
                   created_by=view.created_by, created_at=view.created_at, updated_at=view.updated_at,
                   log_level=LogLevel(view.log_level) if view.log_level else None,
                   concurrency=ConcurrencyPolicy(view.concurrency),
                   retries=RetryPolicy.from_view(view.retries) if view.retries else None, timeout=view.timeout_s,
                   view=view, loaders=loaders)

    def _loaders(self, info: Info) -> Loaders:
        return self.loaders or info.context.loaders

    @strawberry.field(extensions=needs(domain.READ), description="The schedule, or null.")
    def schedule(self) -> PipelineSchedule | None:
        return PipelineSchedule.from_view(self.view.schedule) if self.view.schedule else None

    @strawberry.field(extensions=needs("read:datasets"), description="Datasets the steps read or write.")
    async def datasets(self, info: Info) -> list[Dataset]:
        views = await self._loaders(info).dataset.load_many(list(self.view.dataset_ids))
        return [Dataset.from_view(view, self.loaders) for view in views if view is not None]

    @strawberry.field(extensions=needs(domain.READ), description="Saved versions, newest first.")
    async def versions(self, info: Info, first: int = 20, after: str | None = None) -> Connection[PipelineVersion]:
        page = await self._loaders(info).pipeline_versions.load((str(self.id), page_request(first, after)))
        return connection(page, PipelineVersion.from_view)

    @strawberry.field(extensions=needs(jobs_domain.READ), description="Jobs of this pipeline, newest first.")
    async def jobs(self, info: Info, first: int = 20, after: str | None = None) -> Connection[Job]:
        page = await self._loaders(info).pipeline_jobs.load((str(self.id), page_request(first, after)))
        return connection(page, lambda view: Job.from_view(view, self.loaders))


@strawberry.type(description="What one step of a job did.")
class JobStep:
    step_id: str = strawberry.field(description="The pipeline step's id.")
    type: str = strawberry.field(description="The step type.")
    status: str = strawberry.field(description=one_of(STEP_STATUSES))
    rows_in: int | None = strawberry.field(description="Rows the step read.")
    rows_out: int | None = strawberry.field(description="Rows the step passed on.")
    duration_seconds: float | None = strawberry.field(description="How long the step ran.")
    error: str | None = strawberry.field(description="Why it failed.")
    started_at: datetime | None = strawberry.field(description="When it started.")
    finished_at: datetime | None = strawberry.field(description="When it ended.")

    @classmethod
    def from_view(cls, view: JobStepView) -> JobStep:
        return cls(step_id=view.step_id, type=view.type, status=view.status, rows_in=view.rows_in,
                   rows_out=view.rows_out, duration_seconds=view.duration_s, error=view.error,
                   started_at=view.started_at, finished_at=view.finished_at)


@strawberry.type(description="One run of a job under its pipeline's retry policy.")
class JobAttempt:
    number: int = strawberry.field(description="1 for the first run, then one more per retry.")
    status: JobStatus = strawberry.field(description="running, succeeded, failed, cancelled or timed_out.")
    error: str | None = strawberry.field(description="Why this attempt failed.")
    started_at: datetime = strawberry.field(description="When it started.")
    finished_at: datetime | None = strawberry.field(description="When it ended.")

    @classmethod
    def from_view(cls, view: AttemptView) -> JobAttempt:
        return cls(number=view.number, status=JobStatus(view.status), error=view.error,
                   started_at=view.started_at, finished_at=view.finished_at)


@strawberry.type(description="One line of a job's log.")
class JobLogLine:
    seq: int = strawberry.field(description="Monotonic per job; pass as `after` to read on.")
    time: datetime = strawberry.field(description="When it was written.")
    level: str = strawberry.field(description="debug, info, warning or error.")
    step_id: str | None = strawberry.field(description="The step that wrote it, if any.")
    message: str = strawberry.field(description="The text.")
    # The results of subscription selections on this line, computed once for every follower that shares it
    # (see schema/execution.py).
    shared_results: strawberry.Private[dict[Any, Any]] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_view(cls, line: LogLineView) -> JobLogLine:
        """The line as a GraphQL object: one object per line for all the followers that share the view."""
        found = line.memo.get(cls)
        if found is None:
            found = line.memo[cls] = cls(seq=line.seq, time=line.time, level=line.level, step_id=line.step_id,
                                         message=line.message)
        return found


@strawberry.type(description="A run of a pipeline.")
class Job:
    id: strawberry.ID = strawberry.field(description="Opaque id, `job_...`.")
    status: JobStatus = strawberry.field(description="Where the job is in its life.")
    trigger: JobTrigger = strawberry.field(description="What started it.")
    pipeline_id: strawberry.ID = strawberry.field(description="The pipeline it runs.")
    pipeline_version: int = strawberry.field(description="The pipeline version it runs.")
    retry_of: strawberry.ID | None = strawberry.field(description="The job this one retries.")
    from_step: str | None = strawberry.field(description="The failed step a retry started from.")
    scheduled_for: datetime | None = strawberry.field(description="The tick of a scheduled job.")
    created_by: str = strawberry.field(description="Who or what started it.")
    created_at: datetime = strawberry.field(description="When it was queued.")
    started_at: datetime | None = strawberry.field(description="When a process started it.")
    finished_at: datetime | None = strawberry.field(description="When it ended.")
    percent_complete: float = strawberry.field(description="0 to 100.")
    statistics: JSON = strawberry.field(description="Rows read and written, steps by status, duration.")
    error: str | None = strawberry.field(description="Why it failed.")
    cancel_requested: bool = strawberry.field(description="A cancel was asked for.")
    claims: int = strawberry.field(description="How many times a process claimed it (lease takeovers included).")
    waiting_for: str | None = strawberry.field(
        description="Why it waits now: a slot, another run of its pipeline, or a destination's writer.")
    next_attempt_at: datetime | None = strawberry.field(description="When its next attempt may start.")
    attempts: list[JobAttempt] = strawberry.field(description="Its runs, first first, each with its own error.")
    pipeline_deleted: bool = strawberry.field(
        description="Its pipeline was deleted: the job stays as history and `pipeline` is null.")
    view: strawberry.Private[JobView]
    loaders: strawberry.Private[Loaders | None] = None

    @classmethod
    def from_view(cls, view: JobView, loaders: Loaders | None = None) -> Job:
        return cls(id=strawberry.ID(view.id), status=JobStatus(view.status), trigger=JobTrigger(view.trigger),
                   pipeline_id=strawberry.ID(view.pipeline_id), pipeline_version=view.pipeline_version,
                   retry_of=strawberry.ID(view.retry_of) if view.retry_of else None, from_step=view.from_step,
                   scheduled_for=view.scheduled_for, created_by=view.created_by, created_at=view.created_at,
                   started_at=view.started_at, finished_at=view.finished_at,
                   percent_complete=view.percent_complete, statistics=view.statistics, error=view.error,
                   cancel_requested=view.cancel_requested, claims=view.claims, waiting_for=view.waiting_for,
                   next_attempt_at=view.next_attempt_at,
                   attempts=[JobAttempt.from_view(attempt) for attempt in view.attempts],
                   pipeline_deleted=view.pipeline_deleted, view=view, loaders=loaders)

    def _loaders(self, info: Info) -> Loaders:
        return self.loaders or info.context.loaders

    @strawberry.field(extensions=needs(domain.READ), description="The pipeline, or null once deleted.")
    async def pipeline(self, info: Info) -> Pipeline | None:
        view = await self._loaders(info).pipeline.load(str(self.pipeline_id))
        return Pipeline.from_view(view, self.loaders) if view else None

    @strawberry.field(extensions=needs(jobs_domain.READ), description="Per step: status, rows, duration, error.")
    def steps(self) -> list[JobStep]:
        return [JobStep.from_view(step) for step in self.view.steps]

    @strawberry.field(extensions=needs(jobs_domain.READ), description="Stored log lines after a sequence number.")
    async def logs(self, info: Info, after: int = 0, limit: int = 1_000) -> list[JobLogLine]:
        page = await jobs_domain.job_logs(info.context.principal, str(self.id), after=after, limit=limit)
        return [JobLogLine.from_view(line) for line in page.lines]
