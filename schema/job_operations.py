"""Job queries, mutations and subscriptions: parse, call one resolver, shape the result."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated

import strawberry

from resolvers import job_streams
from resolvers import jobs as domain
from resolvers.errors import NotFound, SubscriberLagged
from resolvers.pipelines import RUN
from resolvers.views.jobs import JobView
from schema.context import Info
from schema.error_types import ConflictError, NotFoundError, ValidationError
from schema.execution import direct_sink
from schema.pagination import Connection, connection, page_request
from schema.permissions import needs
from schema.pipelines import Job, JobLogLine, JobStatus, JobTrigger, LogLevel


@strawberry.input(description="Which jobs to list; every given criterion must hold.")
class JobFilter:
    pipeline_id: strawberry.ID | None = strawberry.field(default=None, description="Jobs of this pipeline.")
    status: JobStatus | None = strawberry.field(default=None, description="Jobs in this state.")
    trigger: JobTrigger | None = strawberry.field(default=None, description="Jobs started this way.")
    created_after: datetime | None = strawberry.field(default=None, description="Queued at or after.")
    created_before: datetime | None = strawberry.field(default=None, description="Queued before.")


@strawberry.type(description="A job was queued, cancelled or retried. `jobId` and `status` are the acknowledgement "
                             "any caller with run:pipelines may read; `job` needs read:jobs.")
class JobSuccess:
    job: Job = strawberry.field(description="The job now (needs read:jobs).", extensions=needs(domain.READ))
    job_id: strawberry.ID = strawberry.field(description="Id of the job.")
    status: JobStatus = strawberry.field(description="Its status now.")

    @classmethod
    def from_view(cls, view: JobView) -> JobSuccess:
        return cls(job=Job.from_view(view), job_id=strawberry.ID(view.id), status=JobStatus(view.status))


@strawberry.type(description="Stored log lines of a job.")
class JobLogPage:
    lines: list[JobLogLine] = strawberry.field(description="In sequence order.")
    next_after: int = strawberry.field(description="Pass as `after` to read on.")
    finished: bool = strawberry.field(description="The job has ended: no more lines will come.")


@strawberry.type(description="The last message of a log stream: the job has ended.")
class JobFinished:
    job: Job = strawberry.field(description="The job in its final state.")


RunPipelineResult = Annotated[JobSuccess | NotFoundError | ValidationError | ConflictError,
                              strawberry.union("RunPipelineResult")]
CancelJobResult = Annotated[JobSuccess | NotFoundError | ConflictError, strawberry.union("CancelJobResult")]
RetryJobResult = Annotated[JobSuccess | NotFoundError | ConflictError | ValidationError,
                           strawberry.union("RetryJobResult")]
JobLogEvent = Annotated[JobLogLine | JobFinished, strawberry.union("JobLogEvent")]


@strawberry.type
class JobQuery:
    @strawberry.field(extensions=needs(domain.READ), description="One job by id, or null if not in your workspace.")
    async def job(self, info: Info, id: strawberry.ID) -> Job | None:
        try:
            return Job.from_view(await domain.get_job(info.context.principal, str(id)))
        except NotFound:
            return None

    @strawberry.field(extensions=needs(domain.READ), description="Jobs of your workspace, newest first.")
    async def jobs(self, info: Info, first: int = 20, after: str | None = None,
                   filter: JobFilter | None = None) -> Connection[Job]:
        wanted = filter or JobFilter()
        filters = domain.JobFilter(
            pipeline_id=str(wanted.pipeline_id) if wanted.pipeline_id else None,
            status=wanted.status.value if wanted.status else None,
            trigger=wanted.trigger.value if wanted.trigger else None,
            created_after=wanted.created_after, created_before=wanted.created_before)
        page = await domain.list_jobs(info.context.principal, filters, page_request(first, after))
        return connection(page, Job.from_view)

    @strawberry.field(extensions=needs(domain.READ),
                      description="Stored log lines: after a sequence, since a time, or the last `tail`.")
    async def job_logs(self, info: Info, job_id: strawberry.ID, after: int | None = None,
                       since: datetime | None = None, tail: int | None = None, limit: int = 1_000,
                       level: LogLevel | None = None) -> JobLogPage:
        page = await domain.job_logs(info.context.principal, str(job_id), after, since, tail, limit,
                                     level.value if level else None)
        return JobLogPage(lines=[JobLogLine.from_view(line) for line in page.lines], next_after=page.next_after,
                          finished=page.finished)


@strawberry.type
class JobMutation:
    @strawberry.mutation(extensions=needs(RUN),
                         description="Queue a job of the pipeline now; the same idempotencyKey returns the same job.")
    async def run_pipeline(self, info: Info, pipeline_id: strawberry.ID,
                           idempotency_key: str | None = None) -> RunPipelineResult:
        return JobSuccess.from_view(
            await domain.run_pipeline(info.context.principal, str(pipeline_id), idempotency_key))

    @strawberry.mutation(extensions=needs(RUN), description="Cancel a pending job, or stop a running one.")
    async def cancel_job(self, info: Info, id: strawberry.ID) -> CancelJobResult:
        return JobSuccess.from_view(await domain.cancel_job(info.context.principal, str(id)))

    @strawberry.mutation(extensions=needs(RUN),
                         description="Run a finished job's version again: all steps, or from the failed step.")
    async def retry_job(self, info: Info, id: strawberry.ID, from_failed_step: bool = False) -> RetryJobResult:
        return JobSuccess.from_view(await domain.retry_job(info.context.principal, str(id), from_failed_step))


@strawberry.type
class JobSubscription:
    @strawberry.subscription(extensions=needs(domain.READ),
                             description="Log lines after `after` (or from the last `tail` stored lines), stored "
                                         "then live, at or above `level`, then JobFinished. A reader that falls "
                                         "behind the live lines gets a last error SUBSCRIBER_LAGGED whose "
                                         "extensions.cursor is the `after` to resubscribe with.")
    async def job_logs(self, info: Info, job_id: strawberry.ID, after: int = 0, tail: int | None = None,
                       level: LogLevel | None = None) -> AsyncGenerator[JobLogEvent, None]:
        # Over a websocket, with a selection of plain fields, live lines go from the job's fan-out straight
        # to the socket (see schema/execution.py); stored lines and the end come through here.
        stream = job_streams.follow_log_batches(info.context.principal, str(job_id), after, tail=tail,
                                                level=level.value if level else None,
                                                sink=direct_sink(JobLogLine, JobLogLine.from_view))
        try:
            async for item in stream:
                if isinstance(item, list):
                    # A live line is one object for all its followers: its result is computed once per selection.
                    for line in item:
                        yield JobLogLine.from_view(line)
                elif isinstance(item, job_streams.JobEnded):
                    yield JobFinished(job=Job.from_view(item.job, info.context.fresh_loaders()))
                else:
                    # The last message: an error with code SUBSCRIBER_LAGGED and extensions.cursor.
                    raise SubscriberLagged(item.cursor)
        finally:
            await stream.aclose()

    @strawberry.subscription(extensions=needs(domain.READ),
                             description="The job now and after every change, until it ends.")
    async def job_status(self, info: Info, job_id: strawberry.ID) -> AsyncGenerator[Job, None]:
        stream = job_streams.watch_job(info.context.principal, str(job_id))
        try:
            async for view in stream:
                # The view carries the steps as they are now; fresh loaders keep its pipeline current too.
                yield Job.from_view(view, info.context.fresh_loaders())
        finally:
            await stream.aclose()
