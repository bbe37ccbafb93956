"""Pipeline queries and mutations (schedules included): parse, call one resolver, shape the result."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from resolvers import pipelines as domain
from resolvers import schedules
from resolvers.errors import NotFound
from resolvers.views.pipelines import STEP_TYPES, PipelineView
from schema.context import Info
from schema.error_types import ConflictError, NotFoundError, PreconditionFailedError, ValidationError
from schema.inputs import to_model
from schema.pagination import Connection, connection, page_request
from schema.permissions import needs
from schema.pipelines import ConcurrencyPolicy, LogLevel, Pipeline, PipelineSchedule, one_of


@strawberry.input(description="One step of a pipeline.")
class PipelineStepInput:
    id: str = strawberry.field(description="Unique in the pipeline.")
    type: str = strawberry.field(description=one_of(STEP_TYPES))
    config: JSON | None = strawberry.field(default=strawberry.UNSET, description="The step's options, as in REST.")
    depends_on: list[str] | None = strawberry.field(default=strawberry.UNSET,
                                                    description="Steps this one runs after.")


@strawberry.input(description="A cron schedule: `0 2 * * *` in a time zone.")
class ScheduleInput:
    cron: str = strawberry.field(description="Cron expression (5 fields, or 6 with seconds first).")
    timezone: str | None = strawberry.field(default=strawberry.UNSET, description="IANA zone; UTC by default.")
    paused: bool | None = strawberry.field(default=strawberry.UNSET, description="Store it paused.")


# Seconds (a number) or a duration string (`90s`, `15m`, `2h`, `1d`): JSON holds either, the domain checks it.
Duration = JSON


@strawberry.input(description="How often a failed or timed-out attempt runs again, and after how long.")
class RetryPolicyInput:
    count: int = strawberry.field(description="Attempts after the first, at most (0 to 100).")
    delay: Duration | None = strawberry.field(default=strawberry.UNSET,
                                              description="Before attempt 2: seconds or `90s`, `15m`; 0.")
    backoff: float | None = strawberry.field(default=strawberry.UNSET,
                                             description="Each further delay is the previous one times this (2).")
    max_delay: Duration | None = strawberry.field(default=strawberry.UNSET,
                                                  description="No delay exceeds it; no cap by default.")


@strawberry.input(description="A new pipeline.")
class CreatePipelineInput:
    name: str = strawberry.field(description="Unique in the workspace.")
    steps: list[PipelineStepInput] = strawberry.field(description="The steps, in order.")
    description: str | None = strawberry.field(default=strawberry.UNSET, description="Free text.")
    schedule: ScheduleInput | None = strawberry.field(default=strawberry.UNSET, description="Optional schedule.")
    log_level: LogLevel | None = strawberry.field(
        default=strawberry.UNSET, description="The lowest level its jobs' logs store; DOCC_JOB_LOG_LEVEL if unset.")
    concurrency: ConcurrencyPolicy | None = strawberry.field(default=strawberry.UNSET,
                                                             description="While another run is active; QUEUE.")
    retries: RetryPolicyInput | None = strawberry.field(default=strawberry.UNSET, description="No retries by default.")
    timeout: Duration | None = strawberry.field(default=strawberry.UNSET,
                                                description="Per attempt: seconds or `90s`, `15m`, `2h`.")


@strawberry.input(description="Changes to a pipeline, saved as a new version: only the fields given change.")
class UpdatePipelineInput:
    name: str | None = strawberry.field(default=strawberry.UNSET, description="New name.")
    description: str | None = strawberry.field(default=strawberry.UNSET, description="New description.")
    steps: list[PipelineStepInput] | None = strawberry.field(default=strawberry.UNSET, description="New steps.")
    schedule: ScheduleInput | None = strawberry.field(default=strawberry.UNSET,
                                                      description="New schedule; null removes it.")
    log_level: LogLevel | None = strawberry.field(
        default=strawberry.UNSET, description="New job log level; null: back to DOCC_JOB_LOG_LEVEL.")
    concurrency: ConcurrencyPolicy | None = strawberry.field(default=strawberry.UNSET,
                                                             description="New policy; null: QUEUE.")
    retries: RetryPolicyInput | None = strawberry.field(default=strawberry.UNSET,
                                                        description="New retry policy; null removes it.")
    timeout: Duration | None = strawberry.field(default=strawberry.UNSET,
                                                description="New timeout; null removes it.")


@strawberry.input(description="Which pipelines to list; every given criterion must hold.")
class PipelineFilter:
    name: str | None = strawberry.field(default=None, description="Part of the name, any case.")
    scheduled: bool | None = strawberry.field(default=None, description="Only (un)scheduled pipelines.")
    dataset_id: strawberry.ID | None = strawberry.field(default=None, description="Pipelines using this dataset.")


@strawberry.type(description="The pipeline was created or changed. `pipelineId` and `version` are the "
                             "acknowledgement any writer may read; `pipeline` needs read:pipelines.")
class PipelineSuccess:
    pipeline: Pipeline = strawberry.field(description="The pipeline after the change (needs read:pipelines).",
                                          extensions=needs(domain.READ))
    pipeline_id: strawberry.ID = strawberry.field(description="Id of the pipeline.")
    version: int = strawberry.field(description="Its version after the change.")

    @classmethod
    def from_view(cls, view: PipelineView) -> PipelineSuccess:
        return cls(pipeline=Pipeline.from_view(view), pipeline_id=strawberry.ID(view.id), version=view.version)


@strawberry.type(description="The pipeline was deleted.")
class DeletePipelineSuccess:
    deleted_id: strawberry.ID = strawberry.field(description="Id of the deleted pipeline.")


@strawberry.type(description="The schedule was changed. `pipelineId` and `paused` are the acknowledgement any "
                             "writer may read; `schedule` and `pipeline` need read:pipelines.")
class ScheduleSuccess:
    pipeline_id: strawberry.ID = strawberry.field(description="The pipeline scheduled.")
    schedule: PipelineSchedule | None = strawberry.field(
        description="The schedule now; null once removed (needs read:pipelines).", extensions=needs(domain.READ))
    paused: bool | None = strawberry.field(description="Whether the schedule is paused now; null once removed.")
    pipeline: Pipeline = strawberry.field(
        description="The pipeline with its schedule now, as REST answers it (needs read:pipelines).",
        extensions=needs(domain.READ))

    @classmethod
    def from_view(cls, view: PipelineView) -> ScheduleSuccess:
        schedule = view.schedule
        return cls(pipeline_id=strawberry.ID(view.id), paused=schedule.paused if schedule else None,
                   schedule=PipelineSchedule.from_view(schedule) if schedule else None,
                   pipeline=Pipeline.from_view(view))


CreatePipelineResult = Annotated[PipelineSuccess | ValidationError | ConflictError,
                                 strawberry.union("CreatePipelineResult")]
UpdatePipelineResult = Annotated[PipelineSuccess | NotFoundError | ValidationError | ConflictError
                                 | PreconditionFailedError, strawberry.union("UpdatePipelineResult")]
DeletePipelineResult = Annotated[DeletePipelineSuccess | NotFoundError | ConflictError,
                                 strawberry.union("DeletePipelineResult")]
ScheduleResult = Annotated[ScheduleSuccess | NotFoundError | ValidationError, strawberry.union("ScheduleResult")]


@strawberry.type
class PipelineQuery:
    @strawberry.field(extensions=needs(domain.READ),
                      description="One pipeline by id, or null if not in your workspace.")
    async def pipeline(self, info: Info, id: strawberry.ID) -> Pipeline | None:
        try:
            return Pipeline.from_view(await domain.get_pipeline(info.context.principal, str(id)))
        except NotFound:
            return None

    @strawberry.field(extensions=needs(domain.READ), description="Pipelines of your workspace, newest first.")
    async def pipelines(self, info: Info, first: int = 20, after: str | None = None,
                        filter: PipelineFilter | None = None) -> Connection[Pipeline]:
        wanted = filter or PipelineFilter()
        filters = domain.PipelineFilter(name=wanted.name, scheduled=wanted.scheduled,
                                        dataset_id=str(wanted.dataset_id) if wanted.dataset_id else None)
        page = await domain.list_pipelines(info.context.principal, filters, page_request(first, after))
        return connection(page, Pipeline.from_view)


@strawberry.type
class PipelineMutation:
    @strawberry.mutation(extensions=needs(domain.WRITE), description="Create a pipeline (version 1).")
    async def create_pipeline(self, info: Info, input: CreatePipelineInput) -> CreatePipelineResult:
        spec = to_model(domain.PipelineCreate, input, "pipeline configuration")
        view = await domain.create_pipeline(info.context.principal, spec, policy=info.context.policy)
        return PipelineSuccess.from_view(view)

    @strawberry.mutation(extensions=needs(domain.WRITE), description="Change a pipeline; saved as a new version.")
    async def update_pipeline(self, info: Info, id: strawberry.ID, input: UpdatePipelineInput,
                              expected_version: int | None = None) -> UpdatePipelineResult:
        spec = to_model(domain.PipelineUpdate, input, "pipeline configuration")
        view = await domain.update_pipeline(info.context.principal, str(id), spec, expected_version,
                                            policy=info.context.policy)
        return PipelineSuccess.from_view(view)

    @strawberry.mutation(extensions=needs(domain.WRITE), description="Delete a pipeline with its jobs.")
    async def delete_pipeline(self, info: Info, id: strawberry.ID) -> DeletePipelineResult:
        await domain.delete_pipeline(info.context.principal, str(id))
        return DeletePipelineSuccess(deleted_id=id)

    @strawberry.mutation(extensions=needs(domain.WRITE), description="Set (or replace) a pipeline's schedule.")
    async def schedule_pipeline(self, info: Info, pipeline_id: strawberry.ID, schedule: ScheduleInput
                                ) -> ScheduleResult:
        # Refusals name the fields as REST names its body's (`body.cron`): one spelling on both surfaces.
        spec = to_model(schedules.ScheduleSpec, schedule, "schedule", prefix="body")
        view = await schedules.set_schedule(info.context.principal, str(pipeline_id), spec)
        return ScheduleSuccess.from_view(view)

    @strawberry.mutation(extensions=needs(domain.WRITE), description="Pause a pipeline's schedule.")
    async def pause_schedule(self, info: Info, pipeline_id: strawberry.ID) -> ScheduleResult:
        return ScheduleSuccess.from_view(await schedules.pause_schedule(info.context.principal, str(pipeline_id)))

    @strawberry.mutation(extensions=needs(domain.WRITE), description="Resume a paused schedule.")
    async def resume_schedule(self, info: Info, pipeline_id: strawberry.ID) -> ScheduleResult:
        return ScheduleSuccess.from_view(await schedules.resume_schedule(info.context.principal, str(pipeline_id)))

    @strawberry.mutation(extensions=needs(domain.WRITE), description="Remove a pipeline's schedule.")
    async def remove_schedule(self, info: Info, pipeline_id: strawberry.ID) -> ScheduleResult:
        return ScheduleSuccess.from_view(await schedules.remove_schedule(info.context.principal, str(pipeline_id)))
