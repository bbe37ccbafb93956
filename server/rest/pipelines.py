"""REST translation of pipelines: /pipelines, their versions, runs and schedules."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from resolvers import jobs as jobs_domain
from resolvers import pipelines as domain
from resolvers import schedules
from resolvers.errors import ValidationError
from server.edge.bodies import read_json
from server.edge.context import principal_of
from server.edge.responses import json_response
from server.edge.routes import Route, full_response
from server.engine.service import POLICY
from server.models.engine import Pipeline, PipelineVersion, Schedule
from server.rest.common import etag, if_match, page_request, page_response
from server.rest.jobs import job_ack, job_json


def schedule_json(row: Schedule | None) -> dict[str, Any] | None:
    """A schedule with its paused state and next run times (in its zone), or None."""
    if row is None:
        return None
    return {"cron": row.cron, "timezone": row.timezone, "paused": row.paused,
            "next_runs": [] if row.paused else schedules.next_runs(row.cron, row.timezone),
            "updated_at": row.updated_at}


def pipeline_json(row: Pipeline, schedule: Schedule | None) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "description": row.description, "steps": row.steps,
            "version": row.version, "schedule": schedule_json(schedule), "created_by": row.created_by,
            "created_at": row.created_at, "updated_at": row.updated_at}


def version_json(row: PipelineVersion) -> dict[str, Any]:
    return {"version": row.version, "name": row.name, "description": row.description, "steps": row.steps,
            "created_by": row.created_by, "created_at": row.created_at}


def schedule_ack(pipeline_id: str, row: Schedule) -> dict[str, Any]:
    """What a caller without read:pipelines learns from a schedule change: only its paused state."""
    return {"pipeline_id": pipeline_id, "paused": row.paused}


async def _one(request: web.Request, row: Pipeline, status: int = 200) -> web.Response:
    if not full_response(request):
        # A write-only key learns the id and the version it created, not the pipeline.
        return json_response({"id": row.id, "version": row.version}, status=status,
                             headers={"ETag": etag(row.id, row.version)})
    principal = await principal_of(request)
    [schedule] = await schedules.get_schedules(principal, [row.id])
    return json_response(pipeline_json(row, schedule), status=status, headers={"ETag": etag(row.id, row.version)})


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
    found = await schedules.get_schedules(principal, [row.id for row in page.items])
    return page_response(request, page, lambda pair: pipeline_json(*pair), items=zip(page.items, found, strict=True))


async def create_pipeline(request: web.Request) -> web.Response:
    row = await domain.create_pipeline(await principal_of(request), await read_json(request),
                                       policy=request.app[POLICY])
    response = await _one(request, row, status=201)
    response.headers["Location"] = f"/api/v1/pipelines/{row.id}"
    return response


async def get_pipeline(request: web.Request) -> web.Response:
    return await _one(request, await domain.get_pipeline(await principal_of(request), request.match_info["id"]))


async def update_pipeline(request: web.Request) -> web.Response:
    pipeline_id = request.match_info["id"]
    row = await domain.update_pipeline(await principal_of(request), pipeline_id, await read_json(request),
                                       if_match(request, pipeline_id), policy=request.app[POLICY])
    return await _one(request, row)


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
    if not full_response(request):
        return json_response(job_ack(job), status=202, headers=headers)
    [steps] = await jobs_domain.job_steps(principal, [job.id])
    return json_response(job_json(job, steps), status=202, headers=headers)


def _schedule_response(request: web.Request, row: Schedule) -> web.Response:
    if not full_response(request):
        return json_response(schedule_ack(request.match_info["id"], row))
    return json_response(schedule_json(row))


async def schedule_pipeline(request: web.Request) -> web.Response:
    row = await schedules.set_schedule(await principal_of(request), request.match_info["id"],
                                       await read_json(request))
    return _schedule_response(request, row)


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
    Route("POST", "/pipelines/{id}/schedule", schedule_pipeline, domain.WRITE, "Set the pipeline's schedule",
          "schedules", body=_body(schedules.ScheduleSpec), read_scope=domain.READ),
    Route("DELETE", "/pipelines/{id}/schedule", remove_schedule, domain.WRITE, "Remove the pipeline's schedule",
          "schedules", status=204),
    Route("POST", "/pipelines/{id}/schedule/pause", pause_schedule, domain.WRITE, "Pause the schedule",
          "schedules", read_scope=domain.READ),
    Route("POST", "/pipelines/{id}/schedule/resume", resume_schedule, domain.WRITE, "Resume the schedule",
          "schedules", read_scope=domain.READ),
]
