"""Typed domain errors: raised by resolvers, mapped once per transport."""

from __future__ import annotations

from typing import Any


class DoccError(Exception):
    """Base of every expected failure; carries a stable code, a message and details."""

    code = "INTERNAL_ERROR"
    status = 500

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}


class ValidationError(DoccError):
    code = "VALIDATION_ERROR"
    status = 400

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
    status = 404

    def __init__(self, kind: str, object_id: str) -> None:
        super().__init__(f"{kind.capitalize()} '{object_id}' was not found",
                         {"resource": kind, "id": object_id})


class Conflict(DoccError):
    code = "CONFLICT"
    status = 409


class SchemaIncompatible(DoccError):
    code = "SCHEMA_INCOMPATIBLE"
    status = 409


class PreconditionFailed(DoccError):
    code = "PRECONDITION_FAILED"
    status = 412


class Unauthorized(DoccError):
    code = "UNAUTHORIZED"
    status = 401


class Forbidden(DoccError):
    code = "FORBIDDEN"
    status = 403


class RateLimited(DoccError):
    code = "RATE_LIMITED"
    status = 429
