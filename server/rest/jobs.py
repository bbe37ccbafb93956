"""REST translation of jobs: /jobs, cancel, and logs (stored, or followed live as NDJSON or SSE)."""

from __future__ import annotations

import asyncio
import contextlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from resolvers import job_streams
from resolvers import jobs as domain
from resolvers.errors import ValidationError
from resolvers.pipelines import RUN
from resolvers.views.jobs import AttemptView, JobStepView, JobView, LogLineView
from server.edge.context import principal_of
from server.edge.responses import json_response
from server.edge.routes import Route, full_response
from server.rest.common import EncodedShape, int_param, page_request, page_response
from server.rest.log_streams import LogWriter, ResponseLines, last_event_id, wants_events

KEEPALIVE_SECONDS = 15.0
_DURATION = re.compile(r"([0-9]{1,6})(s|m|h|d)")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


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
        "cancel_requested": view.cancel_requested, "claims": view.claims, "waiting_for": view.waiting_for,
        "next_attempt_at": view.next_attempt_at, "attempts": [attempt_json(attempt) for attempt in view.attempts],
        "pipeline_deleted": view.pipeline_deleted, "steps": [step_json(step) for step in view.steps],
    }


# A list page's jobs: the views come from the domain's kept builder, one object per stored state.
_LISTED_JSON = EncodedShape(job_json)


def attempt_json(view: AttemptView) -> dict[str, Any]:
    return {"number": view.number, "status": view.status, "error": view.error, "started_at": view.started_at,
            "finished_at": view.finished_at}


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
    return page_response(request, page, _LISTED_JSON)


async def get_job(request: web.Request) -> web.Response:
    return json_response(job_json(await domain.get_job(await principal_of(request), request.match_info["id"])))


async def cancel_job(request: web.Request) -> web.Response:
    view = await domain.cancel_job(await principal_of(request), request.match_info["id"])
    return json_response(job_json(view) if full_response(request) else job_ack(view), status=202)


def _since(request: web.Request) -> datetime | None:
    """`since` as a duration back from now (`30m`, `1h`, `2d`, `45s`) or an ISO 8601 time."""
    raw = request.query.get("since")
    if raw is not None and (match := _DURATION.fullmatch(raw.strip())):
        return datetime.now(UTC) - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    return _time(request, "since")


async def job_logs(request: web.Request) -> web.StreamResponse:
    principal = await principal_of(request)
    job_id = request.match_info["id"]
    follow = request.query.get("follow", "false").lower()
    if follow not in {"true", "false", "1", "0"}:
        raise ValidationError("Invalid query parameter follow", field="follow", reason="Expected true or false")
    after, tail, since = _int(request, "after"), _int(request, "tail"), _since(request)
    level = request.query.get("level")
    domain.levels_from(level)
    if follow in {"true", "1"}:
        return await _follow(request, principal, job_id, after, tail, since, level)
    limit = _int(request, "limit")
    page = await domain.job_logs(principal, job_id, after=after, since=since, tail=tail,
                                 limit=1_000 if limit is None else limit, level=level)
    return json_response({"job_id": job_id, "data": [log_json(line) for line in page.lines],
                          "next_after": page.next_after, "finished": page.finished})


async def _keep_alive(response: web.StreamResponse, writer: LogWriter, last_write: list[float]) -> None:
    """Write a keep-alive whenever nothing was written for KEEPALIVE_SECONDS; ends when the reader is gone."""
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(max(last_write[0] + KEEPALIVE_SECONDS - loop.time(), 0.0) or KEEPALIVE_SECONDS)
        if loop.time() - last_write[0] >= KEEPALIVE_SECONDS:
            try:
                await response.write(writer.keepalive())
            except (ConnectionResetError, RuntimeError):
                return
            last_write[0] = loop.time()


async def _follow(request: web.Request, principal: Any, job_id: str, after: int | None, tail: int | None,
                  since: datetime | None, level: str | None) -> web.StreamResponse:
    """Each line as it is stored, then the end with the job's final state (see server/rest/log_streams.py)."""
    writer = LogWriter(wants_events(request))
    resumed = last_event_id(request) if writer.events else None
    if resumed is not None:  # A reconnecting EventSource goes on after what it got, whatever it first asked.
        after, tail, since = resumed, None, None
    await domain.get_job(principal, job_id)  # An unknown job still gets the envelope, before streaming starts.
    response = web.StreamResponse(headers={"Content-Type": writer.content_type, "Cache-Control": "no-store",
                                           "X-Content-Type-Options": "nosniff", "X-Accel-Buffering": "no"})
    await response.prepare(request)
    if opening := writer.opening():
        await response.write(opening)
    # A quiet job still gets a line now and then, so proxies and clients see the stream is alive. A task of
    # its own does it, rather than a timeout around every line: that cost a task and a timer per line.
    loop = asyncio.get_running_loop()
    last_write = [loop.time()]

    def wrote() -> None:
        last_write[0] = loop.time()

    # Live lines go straight from the job's fan-out to this response's transport (see log_streams.py).
    sink = ResponseLines.of(response, writer, log_json, wrote)
    stream = job_streams.follow_log_batches(principal, job_id, after or 0, tail=tail, since=since, level=level,
                                            sink=sink)
    keeper = asyncio.create_task(_keep_alive(response, writer, last_write))
    try:
        async for item in stream:
            if isinstance(item, list):
                # Every line waiting for this reader leaves in one write, each encoded once for all readers.
                await response.write(writer.lines(item, log_json))
            elif isinstance(item, job_streams.JobEnded):
                await response.write(writer.end({"status": item.job.status, "job": job_json(item.job)}))
            else:
                await response.write(writer.lagged(item.cursor))
            last_write[0] = loop.time()
    except ConnectionResetError:
        # The reader hung up (it may resume with its cursor): the stream simply ends, nothing went wrong.
        return response
    finally:
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper
        await stream.aclose()
    with contextlib.suppress(ConnectionResetError):  # the stream also ends when the reader hung up
        await response.write_eof()
    return response


ROUTES = [
    Route("GET", "/jobs", list_jobs, domain.READ, "List jobs, newest first", "jobs",
          query=("pipeline_id", "status", "trigger", "created_after", "created_before"), paged=True),
    Route("GET", "/jobs/{id}", get_job, domain.READ, "Get a job with its steps", "jobs"),
    Route("POST", "/jobs/{id}/cancel", cancel_job, RUN, "Cancel a pending or running job", "jobs", status=202,
          read_scope=domain.READ),
    Route("GET", "/jobs/{id}/logs", job_logs, domain.READ,
          "Job log lines; follow=true streams NDJSON (or Server-Sent Events) until the job ends", "jobs",
          query=("after", "since", "tail", "limit", "level", "follow")),
]
