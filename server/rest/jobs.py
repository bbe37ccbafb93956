"""REST translation of jobs: /jobs, cancel, and logs (stored, or followed live as NDJSON)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from typing import Any

import orjson
from aiohttp import web

from resolvers import job_streams
from resolvers import jobs as domain
from resolvers.errors import ValidationError
from resolvers.pipelines import RUN
from resolvers.views.jobs import JobStepView, JobView, LogLineView
from server.context import principal_of
from server.rest.common import int_param, json_response, page_request, page_response
from server.rest.routes import Route, full_response

NDJSON = "application/x-ndjson"
KEEPALIVE_SECONDS = 15.0


def step_json(view: JobStepView) -> dict[str, Any]:
    return {"id": view.step_id, "type": view.type, "status": view.status, "rows_in": view.rows_in,
            "rows_out": view.rows_out, "duration_s": view.duration_s, "error": view.error,
            "started_at": view.started_at, "finished_at": view.finished_at}


def job_json(view: JobView) -> dict[str, Any]:
    """A job with its steps, progress in percent and statistics."""
    return {
        "id": view.id, "pipeline_id": view.pipeline_id, "pipeline_version": view.pipeline_version,
        "status": view.status, "trigger": view.trigger, "retry_of": view.retry_of, "from_step": view.from_step,
        "scheduled_for": view.scheduled_for, "created_by": view.created_by, "created_at": view.created_at,
        "started_at": view.started_at, "finished_at": view.finished_at, "duration_s": view.duration_s,
        "percent_complete": view.percent_complete, "statistics": view.statistics, "error": view.error,
        "cancel_requested": view.cancel_requested, "attempts": view.attempts,
        "steps": [step_json(step) for step in view.steps],
    }


def job_ack(view: JobView) -> dict[str, Any]:
    """What a caller without read:jobs learns of a job it started or cancelled: its id and status."""
    return {"id": view.id, "status": view.status}


def log_json(line: LogLineView) -> dict[str, Any]:
    return {"seq": line.seq, "time": line.time, "level": line.level, "step_id": line.step_id,
            "message": line.message}


def _time(request: web.Request, name: str) -> datetime | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(f"Invalid query parameter {name}", field=name,
                              reason="Expected an ISO 8601 time") from None
    if value.tzinfo is None:
        raise ValidationError(f"Invalid query parameter {name}", field=name, reason="Give a time zone (e.g. Z)")
    return value


def _int(request: web.Request, name: str) -> int | None:
    return int_param(request, name, minimum=0)


async def list_jobs(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    query = request.query
    filters = domain.JobFilter(pipeline_id=query.get("pipeline_id") or query.get("pipeline"),
                               status=query.get("status"), trigger=query.get("trigger"),
                               created_after=_time(request, "created_after"),
                               created_before=_time(request, "created_before"))
    page = await domain.list_jobs(principal, filters, page_request(request))
    return page_response(request, page, job_json)


async def get_job(request: web.Request) -> web.Response:
    return json_response(job_json(await domain.get_job(await principal_of(request), request.match_info["id"])))


async def cancel_job(request: web.Request) -> web.Response:
    view = await domain.cancel_job(await principal_of(request), request.match_info["id"])
    return json_response(job_json(view) if full_response(request) else job_ack(view), status=202)


async def job_logs(request: web.Request) -> web.StreamResponse:
    principal = await principal_of(request)
    job_id = request.match_info["id"]
    follow = request.query.get("follow", "false").lower()
    if follow not in {"true", "false", "1", "0"}:
        raise ValidationError("Invalid query parameter follow", field="follow", reason="Expected true or false")
    after = _int(request, "after")
    if follow in {"true", "1"}:
        return await _follow(request, principal, job_id, after or 0)
    limit = _int(request, "limit")
    page = await domain.job_logs(principal, job_id, after=after, since=_time(request, "since"),
                                 tail=_int(request, "tail"), limit=1_000 if limit is None else limit)
    return json_response({"job_id": job_id, "data": [log_json(line) for line in page.lines],
                          "next_after": page.next_after, "finished": page.finished})


async def _follow(request: web.Request, principal: Any, job_id: str, after: int) -> web.StreamResponse:
    """One JSON object a line: `{"type": "log", ...}` for each line, then `{"type": "end", "job": ...}`."""
    await domain.get_job(principal, job_id)  # An unknown job still gets the envelope, before streaming starts.
    stream = job_streams.follow_logs(principal, job_id, after)
    response = web.StreamResponse(headers={"Content-Type": NDJSON, "Cache-Control": "no-store",
                                           "X-Content-Type-Options": "nosniff"})
    await response.prepare(request)
    pending = asyncio.ensure_future(anext(stream, None))
    try:
        while True:
            # A quiet job still gets a line now and then, so proxies and clients see the stream is alive.
            done, _ = await asyncio.wait({pending}, timeout=KEEPALIVE_SECONDS)
            if not done:
                await response.write(b'{"type":"keepalive"}\n')
                continue
            item = pending.result()
            if item is None:
                break
            if isinstance(item, job_streams.JobEnded):
                body = {"type": "end", "status": item.job.status, "job": job_json(item.job)}
            else:
                body = {"type": "log", **log_json(item)}
            await response.write(orjson.dumps(body, option=orjson.OPT_UTC_Z) + b"\n")
            pending = asyncio.ensure_future(anext(stream, None))
    finally:
        if not pending.done():
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pending
        await stream.aclose()
    await response.write_eof()
    return response


ROUTES = [
    Route("GET", "/jobs", list_jobs, domain.READ, "List jobs, newest first", "jobs",
          query=("pipeline_id", "status", "trigger", "created_after", "created_before"), paged=True),
    Route("GET", "/jobs/{id}", get_job, domain.READ, "Get a job with its steps", "jobs"),
    Route("POST", "/jobs/{id}/cancel", cancel_job, RUN, "Cancel a pending or running job", "jobs", status=202,
          read_scope=domain.READ),
    Route("GET", "/jobs/{id}/logs", job_logs, domain.READ,
          "Job log lines; follow=true streams NDJSON until the job ends", "jobs",
          query=("after", "since", "tail", "limit", "follow")),
]
