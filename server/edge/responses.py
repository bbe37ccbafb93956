"""Responses at the HTTP edge: JSON bodies, the reference's error envelope, and what a code means in HTTP.

Domain errors carry a stable code, a message and details; which HTTP status and headers (a
`WWW-Authenticate` challenge, `Retry-After`) a code answers with is decided here, once, for every
surface (REST routes, the OAuth endpoints, the GraphQL view's HTTP refusals).
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from resolvers.errors import DoccError, RateLimited

# The status of each stable code. A code not listed is a server fault: 500.
STATUSES: dict[str, int] = {
    "BAD_REQUEST": 400,
    "VALIDATION_ERROR": 400,
    "INVALID_JSON": 400,
    "QUERY_TOO_COMPLEX": 400,
    "OAUTH_ERROR": 400,
    "UNAUTHORIZED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    "NOT_ACCEPTABLE": 406,
    "CONFLICT": 409,
    "SCHEMA_INCOMPATIBLE": 409,
    "PRECONDITION_FAILED": 412,
    "PAYLOAD_TOO_LARGE": 413,
    "URI_TOO_LONG": 414,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "RATE_LIMITED": 429,
    "HEADERS_TOO_LARGE": 431,
    # Only ever the last message of a live stream (a subscription, a followed log); listed for completeness.
    "SUBSCRIBER_LAGGED": 409,
}
# Statuses aiohttp raises itself, mapped back to stable codes.
HTTP_CODES: dict[int, str] = {status: code for code, status in reversed(STATUSES.items())}
REALM = 'Bearer realm="docc"'


def status_of(code: str) -> int:
    """The HTTP status a stable error code answers with."""
    return STATUSES.get(code, 500)


def challenge(error: DoccError) -> dict[str, str]:
    """The WWW-Authenticate header of a 401 (RFC 6750 section 3): bare when no credential was sent."""
    if error.details.get("reason") == "missing":
        return {"WWW-Authenticate": REALM}
    description = error.message.replace('"', "'")
    return {"WWW-Authenticate": f'{REALM}, error="invalid_token", error_description="{description}"'}


def insufficient_scope(scope: str) -> dict[str, str]:
    """The WWW-Authenticate header of a 403 for a missing scope."""
    return {"WWW-Authenticate": f'{REALM}, error="insufficient_scope", scope="{scope}"'}


def headers_of(error: DoccError) -> dict[str, str]:
    """The headers an error's code and data call for: a challenge, a scope hint, or when to retry."""
    if error.code == "UNAUTHORIZED":
        return challenge(error)
    if error.code == "FORBIDDEN" and isinstance(scope := error.details.get("required_scope"), str):
        return insufficient_scope(scope)
    if isinstance(error, RateLimited) and error.retry_after is not None:
        return {"Retry-After": str(error.retry_after)}
    return {}


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """Serialise with orjson (datetimes as RFC 3339 with a Z)."""
    return web.Response(body=orjson.dumps(data, option=orjson.OPT_UTC_Z), status=status,
                        content_type="application/json", headers=headers)


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


def domain_response(error: DoccError, request_id: str) -> web.Response:
    """A domain error in the envelope, with the status and headers of its code."""
    return error_response(status_of(error.code), error.code, error.message, error.details, request_id,
                          headers_of(error))


def http_response(exc: web.HTTPException, request_id: str) -> web.Response:
    """A refusal aiohttp raised itself (no route, wrong method, body too large) in the envelope."""
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
