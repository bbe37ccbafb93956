"""Jobs: run a pipeline (manually, on schedule or as a retry), list, read, cancel, and read logs."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from resolvers.errors import Conflict, DoccError, NotFound, ValidationError, echo
from resolvers.nested_pages import ChildList, PageKey, pages_by_parent
from resolvers.ownership import load_owned, owned_value, owned_values, require_id, well_formed_id
from resolvers.pagination import Page, PageRequest, paginate, paginate_stored
from resolvers.pipelines import RUN
from resolvers.principal import Principal
from resolvers.run_controls import controls_of
from resolvers.schedules import tick_time
from resolvers.validation import aware
from resolvers.views.jobs import (
    ATTEMPT_COLUMNS,
    FINISHED,
    JOB_COLUMNS,
    JOB_STATUSES,
    STEP_COLUMNS,
    TRIGGERS,
    UNFINISHED,
    JobView,
    LogLineView,
)
from resolvers.views.pipelines import LIVE
from server.engine.bus import JOBS_TOPIC, Event, publish
from server.engine.dataplane.graph import plan_steps
from server.engine.dataplane.validation import MAX_STEP_ID
from server.engine.journal import Journal, step_rows
from server.engine.leases import utcnow
from server.models.base import new_id
from server.models.engine import LOG_LEVELS, Job, JobAttempt, JobLog, JobStep, Pipeline, PipelineVersion, Schedule
from server.models.rows import KeptBuild, converted, plain_rows_in, raw_rows_in, stored_rows

log = logging.getLogger("docc.scheduler")

READ = "read:jobs"
_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
MAX_LOG_LINES = 5_000


@dataclass(frozen=True)
class JobFilter:
    """List filter: every given criterion must hold; times bound `created_at`."""

    pipeline_id: str | None = None
    status: str | None = None
    trigger: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None

    def __post_init__(self) -> None:
        if self.pipeline_id is not None and not well_formed_id(self.pipeline_id):
            raise ValidationError("Invalid filter", field="pipeline_id", reason="Not a pipeline id")
        aware(self.created_after, "created_after")
        aware(self.created_before, "created_before")


async def _load(principal: Principal, job_id: str) -> Job:
    return await load_owned(Job, "job", principal, job_id)


async def views_of(rows: list[Job]) -> list[JobView]:
    """Read models of jobs the caller owns, with their steps fetched in one query."""
    steps: dict[str, list[JobStep]] = {row.id: [] for row in rows}
    attempts: dict[str, list[JobAttempt]] = {row.id: [] for row in rows}
    deleted: set[str] = set()
    if rows:
        for step in await JobStep.filter(job_id__in=list(steps)).order_by("position"):
            steps[step.job_id].append(step)  # type: ignore[attr-defined]
        for attempt in await JobAttempt.filter(job_id__in=list(steps)).order_by("number"):
            attempts[attempt.job_id].append(attempt)  # type: ignore[attr-defined]
        pipeline_ids = list({row.pipeline_id for row in rows})  # type: ignore[attr-defined]
        deleted = set(await Pipeline.filter(id__in=pipeline_ids, deleted_at__isnull=False).values_list(
            "id", flat=True))
    return [JobView.from_row(row, steps[row.id], attempts[row.id], row.pipeline_id in deleted)  # type: ignore[attr-defined]
            for row in rows]


async def plain_views_of(rows: list[tuple[Any, ...]]) -> list[JobView]:
    """Read models of jobs the caller owns from plain rows of JOB_COLUMNS: their steps, attempts and deleted
    pipelines in one statement each, whatever the number of jobs, and no model objects."""
    return await _views_with_children(rows, plain_rows_in, JobView.from_values)


async def _views_with_children(rows: list[tuple[Any, ...]], rows_in: Callable[..., Awaitable[list[tuple[Any, ...]]]],
                               make: Callable[..., JobView]) -> list[JobView]:
    # Each job's steps and attempts read by `rows_in` (plain or stored values), one statement each.
    steps: dict[str, list[tuple[Any, ...]]] = {row[0]: [] for row in rows}
    attempts: dict[str, list[tuple[Any, ...]]] = {row[0]: [] for row in rows}
    deleted: set[str] = set()
    if rows:
        ids = list(steps)
        for step in await rows_in(JobStep, STEP_COLUMNS, "job_id", ids, order=("position",)):
            steps[step[0]].append(step)
        for attempt in await rows_in(JobAttempt, ATTEMPT_COLUMNS, "job_id", ids, order=("number",)):
            attempts[attempt[0]].append(attempt)
        pipeline_ids = list({row[1] for row in rows})
        deleted = {row[0] for row in await plain_rows_in(Pipeline, ("id", "deleted_at"), "id", pipeline_ids)
                   if row[1] is not None}
    return [make(row, steps[row[0]], attempts[row[0]], row[1] in deleted) for row in rows]


async def _view(row: Job) -> JobView:
    [view] = await views_of([row])
    return view


def _check_step_ids(steps: list[dict[str, Any]]) -> None:
    # A pipeline saved before step ids were bounded may hold one its job cannot record: refuse it by name.
    for i, step in enumerate(steps):
        step_id = step.get("id") if isinstance(step, dict) else None
        if not isinstance(step_id, str) or not step_id or len(step_id) > MAX_STEP_ID:
            raise ValidationError("The pipeline cannot run: save it again with valid step ids", field=f"steps[{i}].id",
                                  reason=f"A step id is a non-empty string of at most {MAX_STEP_ID} characters",
                                  step_id=echo(step_id) if isinstance(step_id, str) else None)


async def _create(pipeline: Pipeline, version: int, steps: list[dict[str, Any]], all_steps: list[dict[str, Any]],
                  created_by: str, **extra: Any) -> JobView:
    _check_step_ids(all_steps)
    skipped = {step["id"] for step in all_steps} - {step["id"] for step in steps}
    controls = controls_of(pipeline)
    active: list[str] = []
    if controls["concurrency"] in ("skip", "replace"):
        active = list(await Job.filter(pipeline_id=pipeline.id, status__in=UNFINISHED).order_by(
            "created_at", "id").values_list("id", flat=True))
    reason = None
    if controls["concurrency"] == "skip" and active:
        # Recorded, not refused: the run was asked for, and the history says why it did not run.
        reason = f"skipped: {active[0]} of this pipeline is active (concurrency: skip)"
        extra.update(status="skipped", error=reason, finished_at=utcnow())
        skipped = {step["id"] for step in all_steps}
    async with in_transaction():
        # The pipeline's row lock orders this against its delete: a job is made only while it is not deleted,
        # and a delete that comes after sees the job (and refuses).
        if not await Pipeline.filter(id=pipeline.id, **LIVE).select_for_update().values_list("id", flat=True):
            raise NotFound("pipeline", pipeline.id)
        job = await Job.create(id=new_id("job"), workspace_id=pipeline.workspace_id, pipeline_id=pipeline.id,
                               pipeline_version=version, steps=steps, created_by=created_by, controls=controls,
                               **extra)
        records = step_rows(job.id, all_steps, skipped)
        await JobStep.bulk_create(records)
    if reason is not None:
        await Journal(job.id).log("warning", None, reason)
    else:
        if controls["concurrency"] == "replace":
            for other in active:
                await _stop(other, f"replaced by {job.id} (concurrency: replace)")
        await publish(Event(JOBS_TOPIC, "created", {"job_id": job.id}))
    # The step records were just written as they are here: the view needs no query.
    return JobView.from_row(job, records, ())


async def run_pipeline(principal: Principal, pipeline_id: str, idempotency_key: str | None = None) -> JobView:
    """Queue a job of the pipeline's current version; the same key returns the same job.

    Under the pipeline's concurrency policy, a `skip` run made while another is active is recorded
    `skipped`, and a `replace` run cancels the active ones.

    Raises NotFound (also for a deleted pipeline), ValidationError, Conflict (the key was used for another
    pipeline).
    """
    principal.require(RUN)
    if idempotency_key is not None and not _KEY.match(idempotency_key):
        raise ValidationError("Invalid Idempotency-Key", field="idempotency_key",
                              reason="1 to 200 printable characters without spaces")
    pipeline = await Pipeline.get_or_none(id=require_id("pipeline", pipeline_id), workspace_id=principal.workspace_id,
                                          **LIVE)
    if pipeline is None:
        raise NotFound("pipeline", pipeline_id)
    if idempotency_key is not None:
        existing = await _keyed(principal, pipeline_id, idempotency_key)
        if existing is not None:
            return await _view(existing)
    try:
        return await _create(pipeline, pipeline.version, pipeline.steps, pipeline.steps, principal.subject,
                             trigger="manual", idempotency_key=idempotency_key)
    except IntegrityError:
        # Two requests with one key at once: the other one stored its job first.
        existing = await _keyed(principal, pipeline_id, idempotency_key or "")
        if existing is None:
            raise
        return await _view(existing)


async def _keyed(principal: Principal, pipeline_id: str, key: str) -> Job | None:
    existing = await Job.get_or_none(workspace_id=principal.workspace_id, idempotency_key=key)
    if existing is not None and existing.pipeline_id != pipeline_id:  # type: ignore[attr-defined]
        raise Conflict("This Idempotency-Key was already used to run another pipeline",
                       {"idempotency_key": key, "job_id": existing.id})
    return existing


async def fire_schedule(schedule_id: str, scheduled_for: datetime) -> JobView | None:
    """The job of one scheduled tick, or None when paused, removed, or already made by another process."""
    schedule = await Schedule.get_or_none(id=schedule_id)
    if schedule is None or schedule.paused:
        return None
    pipeline = await Pipeline.get_or_none(id=schedule.pipeline_id, **LIVE)  # type: ignore[attr-defined]
    if pipeline is None:
        return None
    try:
        return await _create(pipeline, pipeline.version, pipeline.steps, pipeline.steps, "schedule",
                             trigger="schedule", schedule_id=schedule.id, scheduled_for=scheduled_for)
    except (IntegrityError, NotFound):  # Made by another process, or the pipeline was deleted meanwhile.
        return None


async def fire_tick(schedule_id: str, now: datetime | None = None) -> JobView | None:
    """The scheduler's tick handler: make the job of the tick due at `now` (default: the current time).

    None when the schedule is paused or gone, or another process already made the tick's job.
    """
    schedule = await Schedule.get_or_none(id=schedule_id)
    if schedule is None or schedule.paused:
        return None
    job = await fire_schedule(schedule.id, tick_time(schedule.cron, schedule.timezone, now))
    if job is not None:
        log.info("Schedule %s made job %s", schedule.id, job.id, extra={"job_id": job.id})
    return job


async def get_job(principal: Principal, job_id: str) -> JobView:
    """One job of the caller's workspace with its steps; raises NotFound."""
    principal.require(READ)
    [view] = await plain_views_of([await owned_value(Job, "job", principal, job_id, JOB_COLUMNS)])
    return view


async def get_jobs(principal: Principal, job_ids: list[str]) -> list[JobView | None]:
    """Jobs by id in the order asked, None where missing (for DataLoaders)."""
    principal.require(READ)
    rows = await owned_values(Job, principal, job_ids, JOB_COLUMNS)
    views = iter(await plain_views_of([row for row in rows if row is not None]))
    return [next(views) if row is not None else None for row in rows]


async def list_jobs(principal: Principal, filters: JobFilter, page: PageRequest) -> Page[JobView]:
    """A page of the workspace's jobs, newest first; raises ValidationError."""
    principal.require(READ)
    if filters.status is not None and filters.status not in JOB_STATUSES:
        raise ValidationError("Invalid filter", field="status", reason=f"Expected one of {', '.join(JOB_STATUSES)}")
    if filters.trigger is not None and filters.trigger not in TRIGGERS:
        raise ValidationError("Invalid filter", field="trigger", reason=f"Expected one of {', '.join(TRIGGERS)}")
    equal = {"workspace_id": principal.workspace_id, "pipeline_id": filters.pipeline_id, "status": filters.status,
             "trigger": filters.trigger}
    where = {column: value for column, value in equal.items() if value}
    if filters.created_after or filters.created_before:
        query = Job.filter(**where)
        if filters.created_after:
            query = query.filter(created_at__gte=filters.created_after)
        if filters.created_before:
            query = query.filter(created_at__lt=filters.created_before)
        rows = await paginate(query, page, read=JOB_ROWS)
    else:
        # Only equal columns: the statements are built once, not through the ORM's query builder (most of a
        # polled page's CPU before).
        rows = await paginate_stored(Job, JOB_COLUMNS, where, page)
    return replace(rows, items=await _listed_views(rows.items))  # type: ignore[arg-type]


def _listed_job(job: tuple[Any, ...], steps: tuple[tuple[Any, ...], ...], attempts: tuple[tuple[Any, ...], ...],
                pipeline_deleted: bool) -> JobView:
    return JobView.from_values(converted(Job, JOB_COLUMNS, job), [converted(JobStep, STEP_COLUMNS, s) for s in steps],
                               [converted(JobAttempt, ATTEMPT_COLUMNS, a) for a in attempts], pipeline_deleted)


# A page's jobs as views, each built once per stored state of its row, its steps' and attempts' rows: a job
# list polled while a few jobs run converts only those.
LISTED_JOB = KeptBuild(_listed_job)
# A page of jobs as stored: the views are kept by those values (LISTED_JOB).
JOB_ROWS = stored_rows(JOB_COLUMNS)


async def _listed_views(rows: list[tuple[Any, ...]]) -> list[JobView]:
    """plain_views_of for stored rows of JOB_COLUMNS, built through LISTED_JOB."""
    return await _views_with_children(rows, raw_rows_in, lambda job, steps, attempts, deleted: LISTED_JOB(
        job, tuple(steps), tuple(attempts), deleted))


PIPELINE_JOBS = ChildList(Job, parent="pipeline_id")


async def jobs_of_pipelines(principal: Principal, keys: list[PageKey]) -> list[Page[JobView] | DoccError]:
    """`list_jobs` filtered by each (pipeline id, page request) in key order, one statement for all (for
    DataLoaders); raises Forbidden; a bad cursor's entry is ValidationError."""
    principal.require(READ)
    return await pages_by_parent(PIPELINE_JOBS, principal.workspace_id, keys, views_of)


async def cancel_job(principal: Principal, job_id: str) -> JobView:
    """Cancel a pending job at once, or ask a running one to stop; raises NotFound, Conflict."""
    principal.require(RUN)
    job = await _load(principal, job_id)
    if job.status in FINISHED:
        raise Conflict(f"The job already {job.status}", {"job_id": job.id, "status": job.status})
    await _stop(job.id, f"by {principal.subject}")
    return await _view(await Job.get(id=job.id))


async def _stop(job_id: str, by: str) -> None:
    """Cancel a job that waits at once, or ask a running one to stop."""
    now = utcnow()
    if await Job.filter(id=job_id, status__in=("pending", "queued")).update(
            status="cancelled", cancel_requested=True, finished_at=now, updated_at=now, waiting_for=None) >= 1:
        journal = Journal(job_id)
        await journal.close_open_steps("cancelled", "cancelled")
        await journal.log("warning", None, f"job cancelled {by} before it started")
        await journal.update_job()
        return
    # It was claimed meanwhile: ask its runner to stop (directly in this process, by its poll elsewhere).
    if await Job.filter(id=job_id, status="running").update(cancel_requested=True) >= 1:
        await Journal(job_id).log("warning", None, f"cancel asked {by}")
    await publish(Event(JOBS_TOPIC, "cancel", {"job_id": job_id}))


def without_steps(steps: list[dict[str, Any]], skip: set[str]) -> list[dict[str, Any]]:
    """The steps minus `skip`, each remaining step wired to its nearest kept input."""
    plan = plan_steps(steps)
    kept: list[dict[str, Any]] = []
    for step in plan.order:
        if step["id"] in skip:
            continue
        copy = dict(step)
        if step["type"] == "data_source":
            copy["depends_on"] = [d for d in step.get("depends_on", []) if d not in skip]
        else:
            source = plan.inputs[step["id"]]
            while source in skip:
                source = plan.inputs[source]
            copy["depends_on"] = [source]
        kept.append(copy)
    return kept


async def retry_job(principal: Principal, job_id: str, from_failed_step: bool = False) -> JobView:
    """Run a finished job's pipeline version again: all steps, or from the failed step on.

    From the failed step, sinks that already succeeded are not written again (their data is recomputed
    only where a later step needs it). Raises NotFound, Conflict, ValidationError.
    """
    principal.require(RUN)
    job = await _load(principal, job_id)
    if job.status not in FINISHED:
        raise Conflict("Only a finished job can be retried", {"job_id": job.id, "status": job.status})
    pipeline = await Pipeline.get(id=job.pipeline_id)  # type: ignore[attr-defined]
    if pipeline.deleted_at is not None:
        raise Conflict("The job's pipeline was deleted; it cannot run again",
                       {"job_id": job.id, "pipeline_id": pipeline.id})
    version = await PipelineVersion.get(pipeline_id=pipeline.id, version=job.pipeline_version)
    steps = version.steps
    failed_step = None
    if from_failed_step:
        rows = await JobStep.filter(job_id=job.id).order_by("position")
        failed = [row for row in rows if row.status == "failed"]
        if job.status != "failed" or not failed:
            raise ValidationError("The job has no failed step to retry from", field="from_failed_step",
                                  reason="Only a failed job can be retried from its failed step")
        failed_step = failed[0].step_id
        done = {row.step_id for row in rows if row.status in ("succeeded", "skipped") and row.type == "data_sink"}
        steps = without_steps(steps, done)
    return await _create(pipeline, job.pipeline_version, steps, version.steps, principal.subject,
                         trigger="retry", retry_of=job.id, from_step=failed_step)


@dataclass(frozen=True)
class LogPage:
    """Log lines in sequence order, the cursor after them, and whether the job has finished."""

    lines: tuple[LogLineView, ...]
    next_after: int
    finished: bool


def levels_from(level: str | None) -> tuple[str, ...] | None:
    """The levels a `level` filter keeps, at or above it in LOG_LEVELS (None: every line); raises ValidationError."""
    if level is None:
        return None
    if level not in LOG_LEVELS:
        raise ValidationError("Invalid level", field="level", reason=f"Expected one of {', '.join(LOG_LEVELS)}")
    return LOG_LEVELS[LOG_LEVELS.index(level):]


async def job_logs(principal: Principal, job_id: str, after: int | None = None, since: datetime | None = None,
                   tail: int | None = None, limit: int = 1_000, level: str | None = None) -> LogPage:
    """Stored log lines: after a sequence number, since a time, or the last `tail`, at or above `level`.

    Raises NotFound, ValidationError.
    """
    principal.require(READ)
    wanted = levels_from(level)
    for name, value in (("after", after), ("tail", tail)):
        if value is not None and value < 0:
            raise ValidationError(f"Invalid {name}", field=name, reason="Must be at least 0")
    if not 1 <= limit <= MAX_LOG_LINES:
        raise ValidationError("Invalid limit", field="limit", reason=f"Must be between 1 and {MAX_LOG_LINES}")
    job = await _load(principal, job_id)
    finished = job.status in FINISHED
    since = aware(since, "since")
    query = JobLog.filter(job_id=job.id)
    if after is not None:
        query = query.filter(seq__gt=after)
    if since is not None:
        query = query.filter(time__gte=since)
    if wanted is not None:
        query = query.filter(level__in=wanted)
    if tail is not None:
        rows = list(reversed(await query.order_by("-seq").limit(min(tail, limit))))
    else:
        rows = list(await query.order_by("seq").limit(limit))
    next_after = rows[-1].seq if rows else (after or 0)
    return LogPage(tuple(LogLineView.from_row(row) for row in rows), next_after, finished)

