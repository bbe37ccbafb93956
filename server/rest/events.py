"""REST translation of the job feed: GET /events follows it as Server-Sent Events or NDJSON.

SSE (`Accept: text/event-stream`): each entry is an event of its kind (`created`, `changed`, `finished`)
whose `id` is its cursor, so a reconnecting `EventSource` resumes by itself (`Last-Event-ID`); a comment
line keeps a quiet stream alive. Otherwise one JSON object a line. The feed never ends by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson
from aiohttp import web

from resolvers import job_events as domain
from resolvers.jobs import READ
from resolvers.views.job_events import JobEventView
from server.edge.context import principal_of
from server.edge.routes import Route
from server.rest.common import int_param
from server.rest.log_streams import LogWriter, last_event_id, wants_events

KEEPALIVE_SECONDS = 15.0
# A stop signal per open feed: a feed never ends by itself, so shutdown ends them (see stop_feeds).
OPEN_FEEDS = web.AppKey("open_feeds", set)


async def stop_feeds(app: web.Application) -> None:
    """On shutdown, end every open feed (its client reconnects elsewhere with Last-Event-ID)."""
    for stop in list(app[OPEN_FEEDS]):
        stop.set()


def event_json(view: JobEventView) -> dict[str, Any]:
    return {"cursor": view.cursor, "kind": view.kind, "job_id": view.job_id, "pipeline_id": view.pipeline_id,
            "status": view.status, "percent_complete": view.percent_complete, "step_id": view.step_id,
            "step_status": view.step_status, "rule_id": view.rule_id, "result_id": view.result_id,
            "rule_status": view.rule_status, "time": view.time}


def _frame(writer: LogWriter, view: JobEventView) -> bytes:
    if writer.events:
        body = orjson.dumps(event_json(view), option=orjson.OPT_UTC_Z)
        return b"id: %d\nevent: %s\ndata: %s\n\n" % (view.cursor, view.kind.encode(), body)
    return orjson.dumps({"type": "event", **event_json(view)}, option=orjson.OPT_UTC_Z) + b"\n"


async def follow_events(request: web.Request) -> web.StreamResponse:
    principal = await principal_of(request)
    query = request.query
    wanted = domain.EventFilter(pipeline_id=query.get("pipeline_id") or None, status=query.get("status") or None)
    writer = LogWriter(wants_events(request))
    after = int_param(request, "after", minimum=0)
    resumed = last_event_id(request) if writer.events else None
    if resumed is not None:  # A reconnecting EventSource goes on after what it got, whatever it first asked.
        after = resumed
    stream = await domain.follow_event_batches(principal, wanted, after)
    response = web.StreamResponse(headers={"Content-Type": writer.content_type, "Cache-Control": "no-store",
                                           "X-Content-Type-Options": "nosniff", "X-Accel-Buffering": "no"})
    pending = asyncio.ensure_future(anext(stream, None))
    stop = asyncio.Event()
    request.app[OPEN_FEEDS].add(stop)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await response.prepare(request)
        if opening := writer.opening():
            await response.write(opening)
        while not stop.is_set():
            # A quiet feed still gets a line now and then, so proxies and clients see the stream is alive.
            done, _ = await asyncio.wait({pending, stopping}, timeout=KEEPALIVE_SECONDS,
                                         return_when=asyncio.FIRST_COMPLETED)
            if pending not in done:
                if not stop.is_set():
                    await response.write(writer.keepalive())
                continue
            batch = pending.result()
            if batch is None:
                break
            # What one read of the store found leaves in one write.
            await response.write(b"".join(_frame(writer, view) for view in batch))
            pending = asyncio.ensure_future(anext(stream, None))
    except ConnectionResetError:
        # The reader hung up (it resumes with its cursor): the feed simply ends, nothing went wrong.
        disconnected = True
    else:
        disconnected = False
    finally:
        request.app[OPEN_FEEDS].discard(stop)
        for waiting in (pending, stopping):
            # Again until it ends: on Python 3.11, wait_for (in Subscription.get) can swallow a cancel
            # that races with a wake-up, and the reader would then go on waiting for the next one.
            while not waiting.done():
                waiting.cancel()
                await asyncio.wait({waiting}, timeout=1.0)
            with contextlib.suppress(asyncio.CancelledError, Exception):
                waiting.result()
        await stream.aclose()
    if not disconnected:
        await response.write_eof()
    return response


ROUTES = [
    Route("GET", "/events", follow_events, READ,
          "The job feed of your workspace (created, changed, finished) from a cursor, as NDJSON or Server-Sent "
          "Events; never ends", "jobs", query=("after", "pipeline_id", "status")),
]
