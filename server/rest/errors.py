"""One middleware gives every response its request id, its log line and, on failure, the envelope."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from resolvers.errors import DoccError
from server.context import REQUEST_CONTEXT, RequestContext, request_id_for

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
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(status: int, code: str, message: str, details: dict[str, Any] | None,
                   request_id: str, headers: dict[str, str] | None = None) -> web.Response:
    """The reference's error envelope."""
    body = {"error": {"code": code, "message": message, "details": details or {},
                      "request_id": request_id}}
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json",
                        headers=headers)


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
