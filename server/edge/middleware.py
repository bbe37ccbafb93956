"""One middleware, in front of every route of both surfaces: request id, access log line, and the envelope."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

from resolvers.errors import DoccError
from server.edge.bodies import NulCharacter
from server.edge.context import REQUEST_CONTEXT, RequestContext, request_id_for
from server.edge.ratelimit import RATE_LIMITS, STANDARD, address_key
from server.edge.responses import domain_response, error_response, http_response
from server.logs import fast_sink, json_line

log = logging.getLogger("docc.access")
errors_log = logging.getLogger("docc.errors")

# What a request line and a header may hold. aiohttp's parser is given more room (HTTP_PARSER_LIMITS)
# so that a request past these limits reaches the middleware and is refused in the envelope.
MAX_URL_BYTES = 8 * 1024
MAX_HEADER_BYTES = 8 * 1024
HTTP_PARSER_LIMITS = {"max_line_size": 64 * 1024, "max_field_size": 64 * 1024}


class UriTooLong(DoccError):
    code = "URI_TOO_LONG"


class HeadersTooLarge(DoccError):
    code = "HEADERS_TOO_LARGE"


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _check_request(request: web.Request) -> None:
    """Refuse an over-long URL (414) or header (431), or a NUL in a query parameter, before anything reads them."""
    if len(request.raw_path) > MAX_URL_BYTES:
        raise UriTooLong("The URL is too long", {"max_bytes": MAX_URL_BYTES})
    for name, value in request.raw_headers:
        if len(name) + len(value) > MAX_HEADER_BYTES:
            raise HeadersTooLarge("A request header is too large",
                                  {"header": name[:64].decode("latin-1"), "max_bytes": MAX_HEADER_BYTES})
    for name, value in request.query.items():
        if "\x00" in name or "\x00" in value:
            raise NulCharacter(name.replace("\x00", ""))


async def _charge_unrouted(request: web.Request) -> None:
    """An unknown route or method counts against the caller's address, like a public route, so the
    refusal carries the rate-limit headers and probing for routes is bounded."""
    if request.match_info.http_exception is not None:
        await request.app[RATE_LIMITS].charge(request, STANDARD, address_key(request))


@web.middleware
async def request_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Assign the request id, turn failures into envelopes, and write the access log line."""
    started = time.perf_counter()
    request_id = request_id_for(request)
    request[REQUEST_CONTEXT] = RequestContext(request_id=request_id)
    try:
        _check_request(request)
        await _charge_unrouted(request)
        response = await handler(request)
    except DoccError as exc:
        response = domain_response(exc, request_id)
    except web.HTTPException as exc:
        if exc.status < 400:
            exc.headers["X-Request-ID"] = request_id
            raise
        response = http_response(exc, request_id)
    except Exception:
        errors_log.exception("Unexpected error", extra={"request_id": request_id})
        response = error_response(500, "INTERNAL_ERROR", "The server failed to handle the request",
                                  {}, request_id)
    if not response.prepared:
        response.headers["X-Request-ID"] = request_id
        response.headers.update(request[REQUEST_CONTEXT].rate_headers)
    if log.isEnabledFor(logging.INFO):
        _access_line(request, response.status, request_id, started)
    return response


def _access_line(request: web.Request, status: int, request_id: str, started: float) -> None:
    """The request's access log line. Built here rather than through `log.info`, which would look up the
    caller's frame and format the message from arguments on every request; the line is the same. With the
    server's own log configuration the line is formatted straight from its fields (no LogRecord: making
    one cost more than the rest of the line), the same bytes the record would have given."""
    resource = request.match_info.route.resource
    method, path = request.method, request.path
    fields = {"request_id": request_id, "method": method, "path": path, "status": status,
              "route": resource.canonical if resource is not None else None,
              "duration_ms": round((time.perf_counter() - started) * 1000, 2)}
    message = f"{method} {path} {status}"
    sink = fast_sink(log)
    if sink is not None:
        entry = json_line(time.time(), "INFO", log.name, message, fields)
        sink.write_line(orjson.dumps(entry).decode())
        return
    record = log.makeRecord(log.name, logging.INFO, __file__, 0, message, None, None)
    record.__dict__.update(fields)
    log.handle(record)
