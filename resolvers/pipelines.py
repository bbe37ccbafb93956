"""Pipelines: create, read, update (each save a new version) and delete, validated before any write."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Any, Literal

import pydantic
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from resolvers.errors import Conflict, DoccError, NotFound, PreconditionFailed, ValidationError, echo
from resolvers.nested_pages import ChildList, PageKey, each, pages_by_parent
from resolvers.ownership import load_many_owned, load_owned
from resolvers.pagination import Page, PageRequest, paginate
from resolvers.principal import Principal
from resolvers.quality.pipeline_checks import check_quality_steps
from resolvers.run_controls import Concurrency, RetryPolicy, Timeout
from resolvers.schedules import ScheduleSpec as ScheduleSpec
from resolvers.schedules import announce, schedules_of, store_schedule
from resolvers.validation import StrictInput
from resolvers.views.jobs import UNFINISHED
from resolvers.views.pipelines import LIVE, PipelineVersionView, PipelineView
from server.engine.dataplane import DataPlaneConfigError, Policy, check_fill_values, validate_steps
from server.engine.leases import utcnow
from server.models.base import new_id
from server.models.datasets import Dataset
from server.models.engine import LOG_LEVELS, Job, Pipeline, PipelineVersion, Schedule

READ, WRITE, RUN = "read:pipelines", "write:pipelines", "run:pipelines"
Name = pydantic.constr(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\- ]*$")  # type: ignore[valid-type]
MAX_STEPS = 100
LogLevel = Literal[LOG_LEVELS]  # type: ignore[valid-type]


class PipelineCreate(StrictInput):
    name: Name
    description: str = pydantic.Field(default="", max_length=10_000)
    steps: list[dict[str, Any]] = pydantic.Field(max_length=MAX_STEPS)
    schedule: ScheduleSpec | None = None
    log_level: LogLevel | None = None
    concurrency: Concurrency = "queue"
    retries: RetryPolicy | None = None
    timeout: Timeout | None = None


class PipelineUpdate(StrictInput):
    name: Name | None = None
    description: str | None = pydantic.Field(default=None, max_length=10_000)
    steps: list[dict[str, Any]] | None = pydantic.Field(default=None, max_length=MAX_STEPS)
    schedule: ScheduleSpec | None = None
    # null: back to the server's DOCC_JOB_LOG_LEVEL.
    log_level: LogLevel | None = None
    concurrency: Concurrency | None = None
    # null removes them (no retries, no timeout).
    retries: RetryPolicy | None = None
    timeout: Timeout | None = None


@dataclass(frozen=True)
class PipelineFilter:
    """List filter: every given criterion must hold."""

    name: str | None = None
    scheduled: bool | None = None
    dataset_id: str | None = None


async def check_steps(principal: Principal, steps: list[dict[str, Any]], policy: Policy) -> None:
    """Data plane validation under its policy, then every referenced dataset must exist here; raises ValidationError."""
    try:
        await asyncio.to_thread(validate_steps, steps, policy)
    except DataPlaneConfigError as exc:
        raise ValidationError("Invalid pipeline configuration", field=exc.field, reason=exc.reason) from None
    wanted = [(i, step["config"]["dataset_id"]) for i, step in enumerate(steps)
              if "dataset_id" in step.get("config", {})]
    found = dict(await Dataset.filter(workspace_id=principal.workspace_id,
                                      id__in=[dataset_id for _, dataset_id in wanted])
                 .values_list("id", "schema_fields"))
    for i, dataset_id in wanted:
        if dataset_id not in found:
            raise ValidationError("Invalid pipeline configuration", field=f"steps[{i}].config.dataset_id",
                                  reason=f"Dataset '{echo(dataset_id)}' does not exist in this workspace")
    schemas = {dataset_id: {"fields": fields or []} for dataset_id, fields in found.items()}
    try:
        await asyncio.to_thread(check_fill_values, steps, schemas)
    except DataPlaneConfigError as exc:
        raise ValidationError("Invalid pipeline configuration", field=exc.field, reason=exc.reason) from None
    await check_quality_steps(principal, steps)


async def _load(principal: Principal, pipeline_id: str) -> Pipeline:
    return await load_owned(Pipeline, "pipeline", principal, pipeline_id, **LIVE)


async def views_of(rows: list[Pipeline]) -> list[PipelineView]:
    """Read models of pipelines the caller owns, with their schedules fetched in one query."""
    schedules = await schedules_of([row.id for row in rows])
    return [PipelineView.from_row(row, schedules.get(row.id)) for row in rows]


async def _view(row: Pipeline) -> PipelineView:
    [view] = await views_of([row])
    return view


async def _ensure_name_free(principal: Principal, name: str, exclude_id: str | None = None) -> None:
    query = Pipeline.filter(workspace_id=principal.workspace_id, name=name, **LIVE)
    if exclude_id:
        query = query.exclude(id=exclude_id)
    if await query.exists():
        raise Conflict(f"A pipeline named '{name}' already exists", {"field": "name", "name": name})


async def create_pipeline(principal: Principal, spec: PipelineCreate, *, policy: Policy) -> PipelineView:
    """Create a pipeline (version 1) and its schedule if given; raises ValidationError, Conflict."""
    principal.require(WRITE)
    await check_steps(principal, spec.steps, policy)
    await _ensure_name_free(principal, spec.name)
    try:
        async with in_transaction():
            row = await Pipeline.create(id=new_id("pl"), workspace_id=principal.workspace_id, name=spec.name,
                                        description=spec.description, steps=spec.steps, version=1,
                                        created_by=principal.subject, log_level=spec.log_level,
                                        concurrency=spec.concurrency,
                                        retries=spec.retries.as_dict() if spec.retries else None,
                                        timeout_s=spec.timeout)
            await PipelineVersion.create(id=new_id("plv"), pipeline=row, version=1, name=row.name,
                                         description=row.description, steps=row.steps, created_by=principal.subject)
            schedule = await store_schedule(row, spec.schedule) if spec.schedule else None
    except IntegrityError:
        raise Conflict(f"A pipeline named '{spec.name}' already exists",
                       {"field": "name", "name": spec.name}) from None
    if schedule is not None:
        await announce(schedule.id, row.id)
    return PipelineView.from_row(row, schedule)


async def get_pipeline(principal: Principal, pipeline_id: str) -> PipelineView:
    """One pipeline of the caller's workspace with its schedule; raises NotFound."""
    principal.require(READ)
    return await _view(await _load(principal, pipeline_id))


async def get_pipelines(principal: Principal, pipeline_ids: list[str]) -> list[PipelineView | None]:
    """Pipelines by id in the order asked, None where missing (for DataLoaders)."""
    principal.require(READ)
    rows = await load_many_owned(Pipeline, principal, pipeline_ids, **LIVE)
    views = iter(await views_of([row for row in rows if row is not None]))
    return [next(views) if row is not None else None for row in rows]


async def list_pipelines(principal: Principal, filters: PipelineFilter, page: PageRequest) -> Page[PipelineView]:
    """A page of the workspace's pipelines, newest first."""
    principal.require(READ)
    query = Pipeline.filter(workspace_id=principal.workspace_id, **LIVE)
    if filters.name:
        query = query.filter(name__icontains=filters.name)
    if filters.scheduled is not None:
        scheduled = Schedule.filter(workspace_id=principal.workspace_id).values_list("pipeline_id", flat=True)
        ids = list(await scheduled)
        query = query.filter(id__in=ids) if filters.scheduled else query.exclude(id__in=ids)
    if filters.dataset_id:
        # Steps are JSON: match the id as a quoted string inside them (ids are opaque hex, no escaping).
        rows = await query.values_list("id", "steps")
        ids = [row_id for row_id, steps in rows if any(
            (s.get("config") or {}).get("dataset_id") == filters.dataset_id for s in steps)]
        query = Pipeline.filter(id__in=ids)
    rows = await paginate(query, page)
    return replace(rows, items=await views_of(rows.items))  # type: ignore[arg-type]


async def update_pipeline(principal: Principal, pipeline_id: str, spec: PipelineUpdate,
                          expected_version: int | None = None, *, policy: Policy) -> PipelineView:
    """Save a change as a new version (a `schedule` of null removes it).

    Raises NotFound, ValidationError, Conflict, PreconditionFailed.
    """
    principal.require(WRITE)
    if not spec.model_fields_set:
        raise ValidationError("Nothing to update", field="body", reason="Give at least one field")
    row = await _load(principal, pipeline_id)
    if expected_version is not None and expected_version != row.version:
        raise PreconditionFailed("The pipeline was changed since you read it",
                                 {"expected_revision": expected_version, "current_revision": row.version})
    if spec.steps is not None:
        await check_steps(principal, spec.steps, policy)
    if spec.name is not None and spec.name != row.name:
        await _ensure_name_free(principal, spec.name, exclude_id=row.id)
    values = {k: v for k, v in (("name", spec.name), ("description", spec.description), ("steps", spec.steps))
              if v is not None}
    definition_changed = any(values.get(k, getattr(row, k)) != getattr(row, k) for k in values)
    schedule_id: str | None = None
    async with in_transaction():
        if definition_changed:
            version = row.version + 1
            try:
                updated = await Pipeline.filter(id=row.id, version=row.version, **LIVE).update(
                    **values, version=version)
                await PipelineVersion.create(
                    id=new_id("plv"), pipeline_id=row.id, version=version, name=values.get("name", row.name),
                    description=values.get("description", row.description), steps=values.get("steps", row.steps),
                    created_by=principal.subject)
            except IntegrityError:
                raise Conflict("The pipeline name is taken or it was changed at the same time; retry",
                               {"pipeline_id": row.id}) from None
            # SQLite counts the rows its triggers touch too (the read generation), so only "nothing updated"
            # is a lost race.
            if updated == 0:
                raise Conflict("The pipeline was changed by another request; read it again and retry",
                               {"pipeline_id": row.id})
        if "log_level" in spec.model_fields_set and spec.log_level != row.log_level:
            # Not part of the definition: no new version, and it applies to the jobs that start from now on.
            await Pipeline.filter(id=row.id, **LIVE).update(log_level=spec.log_level)
        controls = _controls_changed(spec)
        if controls:
            await Pipeline.filter(id=row.id, **LIVE).update(**controls)
        if "schedule" in spec.model_fields_set:
            if spec.schedule is None:
                existing = await Schedule.get_or_none(pipeline_id=row.id)
                if existing is not None:
                    schedule_id = existing.id
                    await existing.delete()
            else:
                schedule_id = (await store_schedule(row, spec.schedule)).id
    if schedule_id is not None:
        await announce(schedule_id, row.id)
    return await _view(await _load(principal, pipeline_id))


def _controls_changed(spec: PipelineUpdate) -> dict[str, Any]:
    """The run controls an update sets; they are settings, not definition: no new version."""
    given = spec.model_fields_set
    changed: dict[str, Any] = {}
    if "concurrency" in given:
        changed["concurrency"] = spec.concurrency or "queue"
    if "retries" in given:
        changed["retries"] = spec.retries.as_dict() if spec.retries else None
    if "timeout" in given:
        changed["timeout_s"] = spec.timeout
    return changed


async def delete_pipeline(principal: Principal, pipeline_id: str) -> None:
    """Delete a pipeline and its schedule, keeping its jobs, logs and versions as history; raises NotFound, Conflict.

    The row stays, hidden, with `deleted_at` set and its name freed (see engine migration 0005) until
    retention has removed every job of it. A pending or running job refuses the delete.
    """
    principal.require(WRITE)
    row = await _load(principal, pipeline_id)
    if await Job.filter(pipeline_id=row.id, status__in=UNFINISHED).exists():
        raise Conflict("The pipeline has pending or running jobs; cancel them first", {"pipeline_id": row.id})
    schedule = await Schedule.get_or_none(pipeline_id=row.id)
    async with in_transaction():
        deleted = await Pipeline.filter(id=row.id, **LIVE).update(
            deleted_at=utcnow(), deleted_name=row.name, name=f"~{row.id}")
        if deleted == 0:
            raise NotFound("pipeline", pipeline_id)
        await Schedule.filter(pipeline_id=row.id).delete()
        # A run asked for between the check and now would find the pipeline gone; one that got in first wins.
        if await Job.filter(pipeline_id=row.id, status__in=UNFINISHED).exists():
            raise Conflict("The pipeline has pending or running jobs; cancel them first", {"pipeline_id": row.id})
    if schedule is not None:
        await announce(schedule.id, row.id)


async def pipeline_versions(principal: Principal, pipeline_id: str,
                            page: PageRequest) -> Page[PipelineVersionView]:
    """Saved versions of a pipeline, newest first; raises NotFound."""
    principal.require(READ)
    row = await _load(principal, pipeline_id)
    return (await paginate(PipelineVersion.filter(pipeline_id=row.id), page)).map(PipelineVersionView.from_row)


# A deleted pipeline (`deleted_at` set, see LIVE) has no versions to show, as `pipeline_versions` says.
VERSIONS = ChildList(PipelineVersion, parent="pipeline_id", owner=Pipeline, kind="pipeline", live="deleted_at")


async def versions_of_pipelines(principal: Principal,
                                keys: list[PageKey]) -> list[Page[PipelineVersionView] | DoccError]:
    """`pipeline_versions` of each (pipeline id, page request) in key order, one statement for all (for
    DataLoaders); raises Forbidden; a missing pipeline's entry is NotFound, a bad cursor's ValidationError."""
    principal.require(READ)
    return await pages_by_parent(VERSIONS, principal.workspace_id, keys, each(PipelineVersionView.from_row))
