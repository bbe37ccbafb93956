"""One exception class per error code of the server's envelope, each carrying the request id."""

from __future__ import annotations

from typing import Any


class DoccError(Exception):
    """Base of every error the SDK raises about an answer of the server (or the lack of one)."""

    code: str = "INTERNAL_ERROR"

    def __init__(self, message: str, *, status: int | None = None, details: dict[str, Any] | None = None,
                 request_id: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.details: dict[str, Any] = details or {}
        self.request_id = request_id
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        where = f" (request {self.request_id})" if self.request_id else ""
        return f"{self.code}: {self.message}{where}"


class ValidationError(DoccError):
    """400 VALIDATION_ERROR: `field` names the first bad field, `reason` says why."""

    code = "VALIDATION_ERROR"

    @property
    def field(self) -> str | None:
        return self.details.get("field")

    @property
    def reason(self) -> str | None:
        return self.details.get("reason")


class InvalidJson(DoccError):
    code = "INVALID_JSON"


class BadRequest(DoccError):
    code = "BAD_REQUEST"


class QueryTooComplex(DoccError):
    code = "QUERY_TOO_COMPLEX"


class Unauthorized(DoccError):
    """401: no credential, or a malformed, unknown, revoked or expired one (`reason` says which)."""

    code = "UNAUTHORIZED"

    @property
    def reason(self) -> str | None:
        return self.details.get("reason")


class Forbidden(DoccError):
    """403: the credential lacks `required_scope`."""

    code = "FORBIDDEN"

    @property
    def required_scope(self) -> str | None:
        return self.details.get("required_scope")


class NotFound(DoccError):
    code = "NOT_FOUND"


class MethodNotAllowed(DoccError):
    code = "METHOD_NOT_ALLOWED"


class NotAcceptable(DoccError):
    code = "NOT_ACCEPTABLE"


class Conflict(DoccError):
    code = "CONFLICT"


class SchemaIncompatible(DoccError):
    """409: the schema change breaks the dataset's compatibility mode; `details` holds the report."""

    code = "SCHEMA_INCOMPATIBLE"


class PreconditionFailed(DoccError):
    """412: the `If-Match` revision is stale: someone changed the object since it was read."""

    code = "PRECONDITION_FAILED"


class PayloadTooLarge(DoccError):
    code = "PAYLOAD_TOO_LARGE"


class UnsupportedMediaType(DoccError):
    code = "UNSUPPORTED_MEDIA_TYPE"


class UriTooLong(DoccError):
    code = "URI_TOO_LONG"


class HeadersTooLarge(DoccError):
    code = "HEADERS_TOO_LARGE"


class RateLimited(DoccError):
    """429 after the client's own retries ran out; `retry_after` is the wait the server asked for."""

    code = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class InternalError(DoccError):
    code = "INTERNAL_ERROR"


class OAuthError(DoccError):
    """The token endpoint refused (RFC 6749 errors: `invalid_client`, `invalid_scope`, ...)."""

    code = "OAUTH_ERROR"


class ConnectionFailed(DoccError):
    """The server could not be reached (after the retries idempotent requests get)."""

    code = "CONNECTION_FAILED"


class JobFailed(DoccError):
    """`job.wait(raise_on_failure=True)` saw the job end `failed` or `cancelled`; `job` is its last state."""

    code = "JOB_FAILED"

    def __init__(self, message: str, *, job: Any = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.job = job


class WaitTimeout(DoccError):
    """The job had not ended when `wait(timeout=...)` gave up; `job` is its last state."""

    code = "WAIT_TIMEOUT"

    def __init__(self, message: str, *, job: Any = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.job = job


ERRORS_BY_CODE: dict[str, type[DoccError]] = {cls.code: cls for cls in (
    ValidationError, InvalidJson, BadRequest, QueryTooComplex, Unauthorized, Forbidden, NotFound,
    MethodNotAllowed, NotAcceptable, Conflict, SchemaIncompatible, PreconditionFailed, PayloadTooLarge,
    UnsupportedMediaType, UriTooLong, HeadersTooLarge, RateLimited, InternalError)}


def error_from_envelope(status: int, body: Any, headers: Any) -> DoccError:
    """The exception for an error answer: by the envelope's code, else by the status alone."""
    envelope = body.get("error") if isinstance(body, dict) else None
    request_id = headers.get("X-Request-ID")
    if not isinstance(envelope, dict):
        text = body if isinstance(body, str) else f"HTTP {status}"
        return DoccError(text[:500] or f"HTTP {status}", status=status, request_id=request_id,
                         code=f"HTTP_{status}")
    code = str(envelope.get("code") or f"HTTP_{status}")
    cls = ERRORS_BY_CODE.get(code, DoccError)
    kwargs: dict[str, Any] = {"status": status, "details": envelope.get("details") or {},
                              "request_id": envelope.get("request_id") or request_id}
    if cls is DoccError:
        kwargs["code"] = code
    if cls is RateLimited:
        kwargs["retry_after"] = retry_after_seconds(headers)
    return cls(str(envelope.get("message") or code), **kwargs)


def retry_after_seconds(headers: Any) -> float | None:
    """`Retry-After` in seconds (the server sends seconds; an HTTP date is not expected)."""
    raw = headers.get("Retry-After")
    try:
        return max(float(raw), 0.0) if raw is not None else None
    except ValueError:
        return None
