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
from server.edge.context import principal_of
from server.edge.responses import json_response
from server.edge.routes import Route, full_response
from server.models.engine import Job, JobLog, JobStep
from server.rest.common import int_param, page_request, page_response

NDJSON = "application/x-ndjson"
KEEPALIVE_SECONDS = 15.0


def step_json(row: JobStep) -> dict[str, Any]:
    return {"id": row.step_id, "type": row.type, "status": row.status, "rows_in": row.rows_in,
            "rows_out": row.rows_out, "duration_s": row.duration_s, "error": row.error,
            "started_at": row.started_at, "finished_at": row.finished_at}


def job_json(row: Job, steps: list[JobStep]) -> dict[str, Any]:
    """A job with its steps, progress in percent and statistics."""
    duration = (row.finished_at - row.started_at).total_seconds() if row.finished_at and row.started_at else None
    return {
        "id": row.id, "pipeline_id": row.pipeline_id, "pipeline_version": row.pipeline_version,  # type: ignore[attr-defined]
        "status": row.status, "trigger": row.trigger, "retry_of": row.retry_of, "from_step": row.from_step,
        "scheduled_for": row.scheduled_for, "created_by": row.created_by, "created_at": row.created_at,
        "started_at": row.started_at, "finished_at": row.finished_at, "duration_s": duration,
        "percent_complete": round(row.progress * 100, 1), "statistics": row.statistics, "error": row.error,
        "cancel_requested": row.cancel_requested, "attempts": row.attempts,
        "steps": [step_json(step) for step in steps],
    }


def job_ack(row: Job) -> dict[str, Any]:
    """What a caller without read:jobs learns of a job it started or cancelled: its id and status."""
    return {"id": row.id, "status": row.status}


def log_json(line: JobLog | job_streams.LogLine) -> dict[str, Any]:
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


async def _with_steps(request: web.Request, row: Job) -> dict[str, Any]:
    [steps] = await domain.job_steps(await principal_of(request), [row.id])
    return job_json(row, steps)


async def list_jobs(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    query = request.query
    filters = domain.JobFilter(pipeline_id=query.get("pipeline_id") or query.get("pipeline"),
                               status=query.get("status"), trigger=query.get("trigger"),
                               created_after=_time(request, "created_after"),
                               created_before=_time(request, "created_before"))
    page = await domain.list_jobs(principal, filters, page_request(request))
    steps = await domain.job_steps(principal, [row.id for row in page.items])
    return page_response(request, page, lambda pair: job_json(*pair), items=zip(page.items, steps, strict=True))


async def get_job(request: web.Request) -> web.Response:
    row = await domain.get_job(await principal_of(request), request.match_info["id"])
    return json_response(await _with_steps(request, row))


async def cancel_job(request: web.Request) -> web.Response:
    row = await domain.cancel_job(await principal_of(request), request.match_info["id"])
    if not full_response(request):
        return json_response(job_ack(row), status=202)
    return json_response(await _with_steps(request, row), status=202)


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
                body = {"type": "end", "status": item.job.status, "job": await _with_steps(request, item.job)}
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
