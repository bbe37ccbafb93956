"""One middleware gives every response its request id, its log line and, on failure, the envelope."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from resolvers.errors import DoccError
from server.auth.authenticate import AUTH
from server.auth.ratelimit import STANDARD
from server.context import REQUEST_CONTEXT, RequestContext, request_id_for
from server.rest.common import NulCharacter

log = logging.getLogger("docc.access")
errors_log = logging.getLogger("docc.errors")

# Statuses aiohttp raises itself, mapped to stable codes.
HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    409: "CONFLICT",
    412: "PRECONDITION_FAILED",
    413: "PAYLOAD_TOO_LARGE",
    414: "URI_TOO_LONG",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
    431: "HEADERS_TOO_LARGE",
}
# What a request line and a header may hold. aiohttp's parser is given more room (HTTP_PARSER_LIMITS)
# so that a request past these limits reaches the middleware and is refused in the envelope.
MAX_URL_BYTES = 8 * 1024
MAX_HEADER_BYTES = 8 * 1024
HTTP_PARSER_LIMITS = {"max_line_size": 64 * 1024, "max_field_size": 64 * 1024}


class UriTooLong(DoccError):
    code = "URI_TOO_LONG"
    status = 414


class HeadersTooLarge(DoccError):
    code = "HEADERS_TOO_LARGE"
    status = 431

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(status: int, code: str, message: str, details: dict[str, Any] | None,
                   request_id: str, headers: dict[str, str] | None = None) -> web.Response:
    """The reference's error envelope."""
    body = {"error": {"code": code, "message": message, "details": details or {},
                      "request_id": request_id}}
    try:
        payload = orjson.dumps(body)
    except TypeError:
        # Details that cannot be serialised (an integer past 64 bits echoed back) must not turn a refusal
        # into aiohttp's plain-text 500: the refusal stands, without them.
        body["error"]["details"] = {}
        payload = orjson.dumps(body)
    return web.Response(status=status, body=payload, content_type="application/json", headers=headers)


def _from_http(exc: web.HTTPException, request_id: str) -> web.Response:
    code = HTTP_CODES.get(exc.status, "HTTP_ERROR")
    details: dict[str, Any] = {}
    message = exc.reason
    if exc.status == 404:
        message = "No such route"
    elif exc.status == 405 and isinstance(exc, web.HTTPMethodNotAllowed):
        details = {"allowed_methods": sorted(exc.allowed_methods)}
        message = f"Method {exc.method} is not allowed here"
    elif exc.status == 413:
        message = "The request body is too large"
    headers = {k: v for k, v in exc.headers.items() if k.lower() in {"allow", "www-authenticate",
                                                                       "retry-after"}}
    return error_response(exc.status, code, message, details, request_id, headers)


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
        await request.app[AUTH].limits.charge(request, STANDARD, f"addr:{request.remote}")


def _from_domain(exc: DoccError, request_id: str) -> web.Response:
    headers = getattr(exc, "headers", None)
    return error_response(exc.status, exc.code, exc.message, exc.details, request_id, headers)


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
        response = _from_domain(exc, request_id)
    except web.HTTPException as exc:
        if exc.status < 400:
            exc.headers["X-Request-ID"] = request_id
            raise
        response = _from_http(exc, request_id)
    except Exception:
        errors_log.exception("Unexpected error", extra={"request_id": request_id})
        response = error_response(500, "INTERNAL_ERROR", "The server failed to handle the request",
                                  {}, request_id)
    if not response.prepared:
        response.headers["X-Request-ID"] = request_id
        response.headers.update(request[REQUEST_CONTEXT].rate_headers)
    resource = request.match_info.route.resource
    log.info("%s %s %s", request.method, request.path, response.status, extra={
        "request_id": request_id, "method": request.method,
        "route": resource.canonical if resource is not None else None,
        "path": request.path, "status": response.status,
        "duration_ms": round((time.perf_counter() - started) * 1000, 2)})
    return response
