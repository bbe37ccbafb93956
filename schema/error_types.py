"""Expected failures as schema types: each has a code and a message, behind one Error interface."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.scalars import JSON

from resolvers import errors as domain


@strawberry.interface(description="An expected failure of an operation.")
class Error:
    code: str = strawberry.field(description="Stable machine-readable code, as in REST errors.")
    message: str = strawberry.field(description="What went wrong, for people.")


@strawberry.type(description="The object does not exist in the caller's workspace.")
class NotFoundError(Error):
    resource: str = strawberry.field(description="Kind of object looked for.")
    id: strawberry.ID = strawberry.field(description="The id that was not found.")


@strawberry.type(description="The input was refused; `field` names the first offending field.")
class ValidationError(Error):
    field: str | None = strawberry.field(description="Dotted path of the offending field.")
    reason: str | None = strawberry.field(description="Why the field was refused.")
    details: JSON = strawberry.field(description="Every problem found, as in REST `details`.")


@strawberry.type(description="The operation conflicts with the current state (a taken name, a race).")
class ConflictError(Error):
    details: JSON = strawberry.field(description="What conflicted.")


@strawberry.type(description="The object changed since the caller read it (expected revision is stale).")
class PreconditionFailedError(Error):
    expected_revision: int | None = strawberry.field(description="The revision the caller expected.")
    current_revision: int | None = strawberry.field(description="The revision stored now.")


@strawberry.type(description="A schema change breaks the dataset's compatibility mode.")
class SchemaIncompatibleError(Error):
    details: JSON = strawberry.field(description="The compatibility report: mode, changes and violations.")


def _not_found(exc: domain.NotFound) -> NotFoundError:
    return NotFoundError(code=exc.code, message=exc.message, resource=exc.details["resource"],
                         id=strawberry.ID(exc.details["id"]))


def _validation(exc: domain.ValidationError) -> ValidationError:
    return ValidationError(code=exc.code, message=exc.message, field=exc.details.get("field"),
                           reason=exc.details.get("reason"), details=exc.details)


def _conflict(exc: domain.Conflict) -> ConflictError:
    return ConflictError(code=exc.code, message=exc.message, details=exc.details)


def _precondition(exc: domain.PreconditionFailed) -> PreconditionFailedError:
    return PreconditionFailedError(code=exc.code, message=exc.message,
                                   expected_revision=exc.details.get("expected_revision"),
                                   current_revision=exc.details.get("current_revision"))


def _incompatible(exc: domain.SchemaIncompatible) -> SchemaIncompatibleError:
    return SchemaIncompatibleError(code=exc.code, message=exc.message, details=exc.details)


class _Handler(strawberry.ExceptionHandler):
    """Turns one domain exception into its union member wherever the field's union has it."""

    def __init__(self, exception_type: type[Exception], error_type: type, convert: Any) -> None:
        self.exception_type = exception_type
        self.error_type = error_type
        self._convert = convert

    def handle(self, exception: Exception, *, field: Any, info: Any) -> Any:
        return self._convert(exception)


EXCEPTION_HANDLERS = [
    _Handler(domain.NotFound, NotFoundError, _not_found),
    _Handler(domain.ValidationError, ValidationError, _validation),
    _Handler(domain.SchemaIncompatible, SchemaIncompatibleError, _incompatible),
    _Handler(domain.Conflict, ConflictError, _conflict),
    _Handler(domain.PreconditionFailed, PreconditionFailedError, _precondition),
]
