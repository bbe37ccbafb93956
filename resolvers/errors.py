"""Typed domain errors: raised by resolvers, mapped once per transport.

An error says what went wrong as data (a stable code, a message, details); which HTTP status or
headers a code answers with is decided at the edge (server.edge.responses), not here.
"""

from __future__ import annotations

from typing import Any


class DoccError(Exception):
    """Base of every expected failure; carries a stable code, a message and details."""

    code = "INTERNAL_ERROR"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}


class ValidationError(DoccError):
    code = "VALIDATION_ERROR"

    def __init__(self, message: str, field: str | None = None, reason: str | None = None,
                 **extra: Any) -> None:
        details: dict[str, Any] = {}
        if field is not None:
            details["field"] = field
        if reason is not None:
            details["reason"] = reason
        details.update(extra)
        super().__init__(message, details)


class NotFound(DoccError):
    code = "NOT_FOUND"

    def __init__(self, kind: str, object_id: str) -> None:
        super().__init__(f"{kind.capitalize()} '{object_id}' was not found",
                         {"resource": kind, "id": object_id})


class Conflict(DoccError):
    code = "CONFLICT"


class SchemaIncompatible(DoccError):
    code = "SCHEMA_INCOMPATIBLE"


class PreconditionFailed(DoccError):
    code = "PRECONDITION_FAILED"


class Unauthorized(DoccError):
    code = "UNAUTHORIZED"


class Forbidden(DoccError):
    code = "FORBIDDEN"


class RateLimited(DoccError):
    code = "RATE_LIMITED"

    def __init__(self, message: str, details: dict[str, Any] | None = None, retry_after: int | None = None) -> None:
        super().__init__(message, details)
        # Seconds until a retry can succeed (None: waiting does not help).
        self.retry_after = retry_after


class SubscriberLagged(DoccError):
    """A live stream's reader fell behind by more than its queue; it resumes after `cursor`."""

    code = "SUBSCRIBER_LAGGED"

    def __init__(self, cursor: int) -> None:
        super().__init__("The subscriber fell behind the live stream; subscribe again with after=cursor",
                         {"cursor": cursor})
        self.cursor = cursor
