"""Pipeline queries and mutations (schedules included): parse, call one resolver, shape the result."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from resolvers import pipelines as domain
from resolvers import schedules
from resolvers.errors import NotFound
from schema.context import Info
from schema.error_types import ConflictError, NotFoundError, PreconditionFailedError, ValidationError
from schema.inputs import to_plain
from schema.pagination import Connection, connection, page_request
from schema.permissions import needs
from schema.pipelines import Pipeline, PipelineSchedule
from server.models.engine import Pipeline as PipelineRow
from server.models.engine import Schedule as ScheduleRow


@strawberry.input(description="One step of a pipeline.")
class PipelineStepInput:
    id: str = strawberry.field(description="Unique in the pipeline.")
    type: str = strawberry.field(description="data_source, data_cleaner or data_sink.")
    config: JSON | None = strawberry.field(default=strawberry.UNSET, description="The step's options, as in REST.")
    depends_on: list[str] | None = strawberry.field(default=strawberry.UNSET,
                                                    description="Steps this one runs after.")


@strawberry.input(description="A cron schedule: `0 2 * * *` in a time zone.")
class ScheduleInput:
    cron: str = strawberry.field(description="Cron expression (5 fields, or 6 with seconds first).")
    timezone: str | None = strawberry.field(default=strawberry.UNSET, description="IANA zone; UTC by default.")
    paused: bool | None = strawberry.field(default=strawberry.UNSET, description="Store it paused.")


@strawberry.input(description="A new pipeline.")
class CreatePipelineInput:
    name: str = strawberry.field(description="Unique in the workspace.")
    steps: list[PipelineStepInput] = strawberry.field(description="The steps, in order.")
    description: str | None = strawberry.field(default=strawberry.UNSET, description="Free text.")
    schedule: ScheduleInput | None = strawberry.field(default=strawberry.UNSET, description="Optional schedule.")


@strawberry.input(description="Changes to a pipeline, saved as a new version: only the fields given change.")
class UpdatePipelineInput:
    name: str | None = strawberry.field(default=strawberry.UNSET, description="New name.")
    description: str | None = strawberry.field(default=strawberry.UNSET, description="New description.")
    steps: list[PipelineStepInput] | None = strawberry.field(default=strawberry.UNSET, description="New steps.")
    schedule: ScheduleInput | None = strawberry.field(default=strawberry.UNSET,
                                                      description="New schedule; null removes it.")


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
    def from_model(cls, row: PipelineRow) -> PipelineSuccess:
        return cls(pipeline=Pipeline.from_model(row), pipeline_id=strawberry.ID(row.id), version=row.version)


@strawberry.type(description="The pipeline was deleted.")
class DeletePipelineSuccess:
    deleted_id: strawberry.ID = strawberry.field(description="Id of the deleted pipeline.")


@strawberry.type(description="The schedule was changed. `pipelineId` and `paused` are the acknowledgement any "
                             "writer may read; `schedule` needs read:pipelines.")
class ScheduleSuccess:
    pipeline_id: strawberry.ID = strawberry.field(description="The pipeline scheduled.")
    schedule: PipelineSchedule | None = strawberry.field(
        description="The schedule now; null once removed (needs read:pipelines).", extensions=needs(domain.READ))
    paused: bool | None = strawberry.field(description="Whether the schedule is paused now; null once removed.")


CreatePipelineResult = Annotated[PipelineSuccess | ValidationError | ConflictError,
                                 strawberry.union("CreatePipelineResult")]
UpdatePipelineResult = Annotated[PipelineSuccess | NotFoundError | ValidationError | ConflictError
                                 | PreconditionFailedError, strawberry.union("UpdatePipelineResult")]
DeletePipelineResult = Annotated[DeletePipelineSuccess | NotFoundError | ConflictError,
                                 strawberry.union("DeletePipelineResult")]
ScheduleResult = Annotated[ScheduleSuccess | NotFoundError | ValidationError, strawberry.union("ScheduleResult")]


def _schedule(pipeline_id: strawberry.ID, row: ScheduleRow | None) -> ScheduleSuccess:
    return ScheduleSuccess(pipeline_id=pipeline_id, schedule=PipelineSchedule.from_model(row) if row else None,
                           paused=row.paused if row else None)


@strawberry.type
class PipelineQuery:
    @strawberry.field(extensions=needs(domain.READ),
                      description="One pipeline by id, or null if not in your workspace.")
    async def pipeline(self, info: Info, id: strawberry.ID) -> Pipeline | None:
        try:
            return Pipeline.from_model(await domain.get_pipeline(info.context.principal, str(id)))
        except NotFound:
            return None

    @strawberry.field(extensions=needs(domain.READ), description="Pipelines of your workspace, newest first.")
    async def pipelines(self, info: Info, first: int = 20, after: str | None = None,
                        filter: PipelineFilter | None = None) -> Connection[Pipeline]:
        wanted = filter or PipelineFilter()
        filters = domain.PipelineFilter(name=wanted.name, scheduled=wanted.scheduled,
                                        dataset_id=str(wanted.dataset_id) if wanted.dataset_id else None)
        page = await domain.list_pipelines(info.context.principal, filters, page_request(first, after))
        return connection(page, Pipeline.from_model)


@strawberry.type
class PipelineMutation:
    @strawberry.mutation(extensions=needs(domain.WRITE), description="Create a pipeline (version 1).")
    async def create_pipeline(self, info: Info, input: CreatePipelineInput) -> CreatePipelineResult:
        row = await domain.create_pipeline(info.context.principal, to_plain(input), policy=info.context.policy)
        return PipelineSuccess.from_model(row)

    @strawberry.mutation(extensions=needs(domain.WRITE), description="Change a pipeline; saved as a new version.")
    async def update_pipeline(self, info: Info, id: strawberry.ID, input: UpdatePipelineInput,
                              expected_version: int | None = None) -> UpdatePipelineResult:
        row = await domain.update_pipeline(info.context.principal, str(id), to_plain(input), expected_version,
                                           policy=info.context.policy)
        return PipelineSuccess.from_model(row)

    @strawberry.mutation(extensions=needs(domain.WRITE), description="Delete a pipeline with its jobs.")
    async def delete_pipeline(self, info: Info, id: strawberry.ID) -> DeletePipelineResult:
        await domain.delete_pipeline(info.context.principal, str(id))
        return DeletePipelineSuccess(deleted_id=id)

    @strawberry.mutation(extensions=needs(domain.WRITE), description="Set (or replace) a pipeline's schedule.")
    async def schedule_pipeline(self, info: Info, pipeline_id: strawberry.ID, schedule: ScheduleInput
                                ) -> ScheduleResult:
        row = await schedules.set_schedule(info.context.principal, str(pipeline_id), to_plain(schedule))
        return _schedule(pipeline_id, row)

    @strawberry.mutation(extensions=needs(domain.WRITE), description="Pause a pipeline's schedule.")
    async def pause_schedule(self, info: Info, pipeline_id: strawberry.ID) -> ScheduleResult:
        return _schedule(pipeline_id, await schedules.pause_schedule(info.context.principal, str(pipeline_id)))

    @strawberry.mutation(extensions=needs(domain.WRITE), description="Resume a paused schedule.")
    async def resume_schedule(self, info: Info, pipeline_id: strawberry.ID) -> ScheduleResult:
        return _schedule(pipeline_id, await schedules.resume_schedule(info.context.principal, str(pipeline_id)))

    @strawberry.mutation(extensions=needs(domain.WRITE), description="Remove a pipeline's schedule.")
    async def remove_schedule(self, info: Info, pipeline_id: strawberry.ID) -> ScheduleResult:
        await schedules.remove_schedule(info.context.principal, str(pipeline_id))
        return _schedule(pipeline_id, None)
