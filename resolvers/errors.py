"""Typed domain errors: raised by resolvers, mapped once per transport.

An error says what went wrong as data (a stable code, a message, details); which HTTP status or
headers a code answers with is decided at the edge (server.edge.responses), not here.
"""

from __future__ import annotations

import unicodedata
from typing import Any

ECHO_LIMIT = 100  # characters of client input (an id) an error repeats back


def echo(value: str, limit: int = ECHO_LIMIT) -> str:
    """Client input as an error may repeat it: control characters dropped, cut at `limit` with an ellipsis."""
    clean = "".join(c for c in value if unicodedata.category(c)[0] != "C")
    return clean if len(clean) <= limit else clean[:limit - 1] + "\u2026"


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
        shown = echo(object_id)  # The id comes from the client: it may be 8 KB long or hold NUL bytes.
        super().__init__(f"{kind.capitalize()} '{shown}' was not found", {"resource": kind, "id": shown})


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
