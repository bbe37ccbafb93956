"""GraphQL types of pipelines, schedules and jobs; relations load through the request's DataLoaders."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from resolvers import jobs as jobs_domain
from resolvers import pipelines as domain
from resolvers import schedules
from resolvers.job_streams import LogLine
from schema.context import Info, Loaders
from schema.datasets import Dataset
from schema.pagination import Connection, connection, page_request
from schema.permissions import needs
from server.models.engine import Job as JobRow
from server.models.engine import JobLog as LogRow
from server.models.engine import JobStep as StepRow
from server.models.engine import Pipeline as PipelineRow
from server.models.engine import PipelineVersion as VersionRow
from server.models.engine import Schedule as ScheduleRow


@strawberry.enum(description="Where a job is in its life.")
class JobStatus(Enum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


@strawberry.enum(description="What started a job.")
class JobTrigger(Enum):
    MANUAL = "manual"
    SCHEDULE = "schedule"
    RETRY = "retry"


@strawberry.type(description="One step of a pipeline.")
class PipelineStep:
    id: str = strawberry.field(description="Unique in the pipeline.")
    type: str = strawberry.field(description="data_source, data_cleaner or data_sink.")
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
    def from_model(cls, row: ScheduleRow) -> PipelineSchedule:
        runs = [] if row.paused else schedules.next_runs(row.cron, row.timezone)
        return cls(cron=row.cron, timezone=row.timezone, paused=row.paused, next_runs=runs)


@strawberry.type(description="A saved version of a pipeline's definition.")
class PipelineVersion:
    version: int = strawberry.field(description="1, then one more per saved change.")
    name: str = strawberry.field(description="Name at that version.")
    description: str = strawberry.field(description="Description at that version.")
    steps: list[PipelineStep] = strawberry.field(description="Steps at that version.")
    created_by: str = strawberry.field(description="Who saved it.")
    created_at: datetime = strawberry.field(description="When it was saved.")

    @classmethod
    def from_model(cls, row: VersionRow) -> PipelineVersion:
        return cls(version=row.version, name=row.name, description=row.description,
                   steps=[PipelineStep.from_dict(s) for s in row.steps], created_by=row.created_by,
                   created_at=row.created_at)


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
    raw_steps: strawberry.Private[list[dict[str, Any]]]

    @classmethod
    def from_model(cls, row: PipelineRow) -> Pipeline:
        return cls(id=strawberry.ID(row.id), name=row.name, description=row.description,
                   steps=[PipelineStep.from_dict(s) for s in row.steps], version=row.version,
                   created_by=row.created_by, created_at=row.created_at, updated_at=row.updated_at,
                   raw_steps=row.steps)

    @strawberry.field(extensions=needs(domain.READ), description="The schedule, or null.")
    async def schedule(self, info: Info) -> PipelineSchedule | None:
        row = await info.context.loaders.schedule.load(str(self.id))
        return PipelineSchedule.from_model(row) if row else None

    @strawberry.field(extensions=needs("read:datasets"), description="Datasets the steps read or write.")
    async def datasets(self, info: Info) -> list[Dataset]:
        rows = await info.context.loaders.dataset.load_many(domain.datasets_of(self.raw_steps))
        return [Dataset.from_view(view) for view in rows if view is not None]

    @strawberry.field(extensions=needs(domain.READ), description="Saved versions, newest first.")
    async def versions(self, info: Info, first: int = 20, after: str | None = None) -> Connection[PipelineVersion]:
        page = await domain.pipeline_versions(info.context.principal, str(self.id), page_request(first, after))
        return connection(page, PipelineVersion.from_model)

    @strawberry.field(extensions=needs(jobs_domain.READ), description="Jobs of this pipeline, newest first.")
    async def jobs(self, info: Info, first: int = 20, after: str | None = None) -> Connection[Job]:
        page = await jobs_domain.list_jobs(info.context.principal, jobs_domain.JobFilter(pipeline_id=str(self.id)),
                                           page_request(first, after))
        return connection(page, Job.from_model)


@strawberry.type(description="What one step of a job did.")
class JobStep:
    step_id: str = strawberry.field(description="The pipeline step's id.")
    type: str = strawberry.field(description="The step type.")
    status: str = strawberry.field(description="pending, running, succeeded, failed, cancelled or skipped.")
    rows_in: int | None = strawberry.field(description="Rows the step read.")
    rows_out: int | None = strawberry.field(description="Rows the step passed on.")
    duration_seconds: float | None = strawberry.field(description="How long the step ran.")
    error: str | None = strawberry.field(description="Why it failed.")
    started_at: datetime | None = strawberry.field(description="When it started.")
    finished_at: datetime | None = strawberry.field(description="When it ended.")

    @classmethod
    def from_model(cls, row: StepRow) -> JobStep:
        return cls(step_id=row.step_id, type=row.type, status=row.status, rows_in=row.rows_in,
                   rows_out=row.rows_out, duration_seconds=row.duration_s, error=row.error,
                   started_at=row.started_at, finished_at=row.finished_at)


@strawberry.type(description="One line of a job's log.")
class JobLogLine:
    seq: int = strawberry.field(description="Monotonic per job; pass as `after` to read on.")
    time: datetime = strawberry.field(description="When it was written.")
    level: str = strawberry.field(description="debug, info, warning or error.")
    step_id: str | None = strawberry.field(description="The step that wrote it, if any.")
    message: str = strawberry.field(description="The text.")

    @classmethod
    def from_line(cls, line: LogRow | LogLine) -> JobLogLine:
        return cls(seq=line.seq, time=line.time, level=line.level, step_id=line.step_id, message=line.message)


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
    attempts: int = strawberry.field(description="How many times a process claimed it.")
    loaders: strawberry.Private[Loaders | None] = None

    @classmethod
    def from_model(cls, row: JobRow, loaders: Loaders | None = None) -> Job:
        return cls(id=strawberry.ID(row.id), status=JobStatus(row.status), trigger=JobTrigger(row.trigger),
                   pipeline_id=strawberry.ID(row.pipeline_id), pipeline_version=row.pipeline_version,  # type: ignore[attr-defined]
                   retry_of=strawberry.ID(row.retry_of) if row.retry_of else None, from_step=row.from_step,
                   scheduled_for=row.scheduled_for, created_by=row.created_by, created_at=row.created_at,
                   started_at=row.started_at, finished_at=row.finished_at,
                   percent_complete=round(row.progress * 100, 1), statistics=row.statistics, error=row.error,
                   cancel_requested=row.cancel_requested, attempts=row.attempts, loaders=loaders)

    def _loaders(self, info: Info) -> Loaders:
        return self.loaders or info.context.loaders

    @strawberry.field(extensions=needs(domain.READ), description="The pipeline, or null once deleted.")
    async def pipeline(self, info: Info) -> Pipeline | None:
        row = await self._loaders(info).pipeline.load(str(self.pipeline_id))
        return Pipeline.from_model(row) if row else None

    @strawberry.field(extensions=needs(jobs_domain.READ), description="Per step: status, rows, duration, error.")
    async def steps(self, info: Info) -> list[JobStep]:
        return [JobStep.from_model(row) for row in await self._loaders(info).job_steps.load(str(self.id))]

    @strawberry.field(extensions=needs(jobs_domain.READ), description="Stored log lines after a sequence number.")
    async def logs(self, info: Info, after: int = 0, limit: int = 1_000) -> list[JobLogLine]:
        page = await jobs_domain.job_logs(info.context.principal, str(self.id), after=after, limit=limit)
        return [JobLogLine.from_line(line) for line in page.lines]
