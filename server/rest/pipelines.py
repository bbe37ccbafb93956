"""REST translation of pipelines: /pipelines, their versions, runs and schedules."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from resolvers import jobs as jobs_domain
from resolvers import pipelines as domain
from resolvers import schedules
from resolvers.errors import ValidationError
from resolvers.validation import parse
from resolvers.views.pipelines import PipelineVersionView, PipelineView, RetryView, ScheduleView
from server.edge.bodies import read_json
from server.edge.context import principal_of
from server.edge.responses import json_response
from server.edge.routes import Route, full_response
from server.engine.service import POLICY
from server.rest.common import etag, if_match, page_request, page_response
from server.rest.jobs import job_ack, job_json


def schedule_json(view: ScheduleView | None) -> dict[str, Any] | None:
    """A schedule with its paused state and next run times (in its zone), or None."""
    if view is None:
        return None
    return {"cron": view.cron, "timezone": view.timezone, "paused": view.paused, "next_runs": view.next_runs,
            "updated_at": view.updated_at}


def retries_json(view: RetryView | None) -> dict[str, Any] | None:
    """A retry policy, its times in seconds (as the input takes them), or None."""
    if view is None:
        return None
    return {"count": view.count, "delay": view.delay_s, "backoff": view.backoff, "max_delay": view.max_delay_s}


def pipeline_json(view: PipelineView) -> dict[str, Any]:
    return {"id": view.id, "name": view.name, "description": view.description, "steps": view.steps,
            "version": view.version, "schedule": schedule_json(view.schedule), "concurrency": view.concurrency,
            "retries": retries_json(view.retries), "timeout": view.timeout_s, "created_by": view.created_by,
            "created_at": view.created_at, "updated_at": view.updated_at, "log_level": view.log_level}


def version_json(view: PipelineVersionView) -> dict[str, Any]:
    return {"version": view.version, "name": view.name, "description": view.description, "steps": view.steps,
            "created_by": view.created_by, "created_at": view.created_at}


def schedule_ack(view: PipelineView) -> dict[str, Any]:
    """What a caller without read:pipelines learns from a pause or resume: only the paused state."""
    return {"pipeline_id": view.id, "paused": view.schedule.paused if view.schedule else None}


def _one(request: web.Request, view: PipelineView, status: int = 200) -> web.Response:
    headers = {"ETag": etag(view.id, view.version)}
    if not full_response(request):
        # A write-only key learns the id and the version it created, not the pipeline.
        return json_response({"id": view.id, "version": view.version}, status=status, headers=headers)
    return json_response(pipeline_json(view), status=status, headers=headers)


def _flag(request: web.Request, name: str) -> bool | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    if raw.lower() not in {"true", "false", "1", "0"}:
        raise ValidationError(f"Invalid query parameter {name}", field=name, reason="Expected true or false")
    return raw.lower() in {"true", "1"}


async def list_pipelines(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    filters = domain.PipelineFilter(name=request.query.get("name"), scheduled=_flag(request, "scheduled"),
                                    dataset_id=request.query.get("dataset_id"))
    page = await domain.list_pipelines(principal, filters, page_request(request))
    return page_response(request, page, pipeline_json)


async def create_pipeline(request: web.Request) -> web.Response:
    spec = parse(domain.PipelineCreate, await read_json(request), "pipeline configuration")
    view = await domain.create_pipeline(await principal_of(request), spec, policy=request.app[POLICY])
    response = _one(request, view, status=201)
    response.headers["Location"] = f"/api/v1/pipelines/{view.id}"
    return response


async def get_pipeline(request: web.Request) -> web.Response:
    return _one(request, await domain.get_pipeline(await principal_of(request), request.match_info["id"]))


async def update_pipeline(request: web.Request) -> web.Response:
    pipeline_id = request.match_info["id"]
    spec = parse(domain.PipelineUpdate, await read_json(request), "pipeline configuration")
    view = await domain.update_pipeline(await principal_of(request), pipeline_id, spec,
                                        if_match(request, pipeline_id), policy=request.app[POLICY])
    return _one(request, view)


async def delete_pipeline(request: web.Request) -> web.Response:
    await domain.delete_pipeline(await principal_of(request), request.match_info["id"])
    return web.Response(status=204)


async def pipeline_versions(request: web.Request) -> web.Response:
    page = await domain.pipeline_versions(await principal_of(request), request.match_info["id"],
                                          page_request(request))
    return page_response(request, page, version_json)


async def run_pipeline(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    job = await jobs_domain.run_pipeline(principal, request.match_info["id"], request.headers.get("Idempotency-Key"))
    headers = {"Location": f"/api/v1/jobs/{job.id}"}
    return json_response(job_json(job) if full_response(request) else job_ack(job), status=202, headers=headers)


def _schedule_response(request: web.Request, view: PipelineView) -> web.Response:
    return json_response(schedule_json(view.schedule) if full_response(request) else schedule_ack(view))


async def schedule_pipeline(request: web.Request) -> web.Response:
    """Answers the pipeline with its new schedule, like every other write of a pipeline."""
    spec = parse(schedules.ScheduleSpec, await read_json(request), "schedule", prefix="body")
    return _one(request, await schedules.set_schedule(await principal_of(request), request.match_info["id"], spec))


async def pause_schedule(request: web.Request) -> web.Response:
    return _schedule_response(request, await schedules.pause_schedule(await principal_of(request),
                                                                      request.match_info["id"]))


async def resume_schedule(request: web.Request) -> web.Response:
    return _schedule_response(request, await schedules.resume_schedule(await principal_of(request),
                                                                       request.match_info["id"]))


async def remove_schedule(request: web.Request) -> web.Response:
    await schedules.remove_schedule(await principal_of(request), request.match_info["id"])
    return web.Response(status=204)


def _body(model: Any) -> dict[str, Any]:
    return model.model_json_schema(by_alias=True)


ROUTES = [
    Route("GET", "/pipelines", list_pipelines, domain.READ, "List pipelines", "pipelines",
          query=("name", "scheduled", "dataset_id"), paged=True),
    Route("POST", "/pipelines", create_pipeline, domain.WRITE, "Create a pipeline", "pipelines", status=201,
          body=_body(domain.PipelineCreate), read_scope=domain.READ),
    Route("GET", "/pipelines/{id}", get_pipeline, domain.READ, "Get a pipeline", "pipelines"),
    Route("PUT", "/pipelines/{id}", update_pipeline, domain.WRITE, "Update a pipeline (saved as a new version)",
          "pipelines", body=_body(domain.PipelineUpdate), read_scope=domain.READ),
    Route("DELETE", "/pipelines/{id}", delete_pipeline, domain.WRITE, "Delete a pipeline", "pipelines", status=204),
    Route("GET", "/pipelines/{id}/versions", pipeline_versions, domain.READ, "Saved versions, newest first",
          "pipelines", paged=True),
    Route("POST", "/pipelines/{id}/run", run_pipeline, domain.RUN,
          "Run a pipeline now (answers at once with the pending job; honours Idempotency-Key)", "jobs", status=202,
          read_scope=jobs_domain.READ),
    Route("POST", "/pipelines/{id}/schedule", schedule_pipeline, domain.WRITE,
          "Set the pipeline's schedule (answers the pipeline with it)", "schedules",
          body=_body(schedules.ScheduleSpec), read_scope=domain.READ),
    Route("DELETE", "/pipelines/{id}/schedule", remove_schedule, domain.WRITE, "Remove the pipeline's schedule",
          "schedules", status=204),
    Route("POST", "/pipelines/{id}/schedule/pause", pause_schedule, domain.WRITE, "Pause the schedule",
          "schedules", read_scope=domain.READ),
    Route("POST", "/pipelines/{id}/schedule/resume", resume_schedule, domain.WRITE, "Resume the schedule",
          "schedules", read_scope=domain.READ),
]
