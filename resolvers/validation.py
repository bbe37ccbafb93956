"""Strict parsing of plain inputs, shared by every surface so they refuse the same things."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import pydantic

from resolvers.errors import ValidationError

M = TypeVar("M", bound=pydantic.BaseModel)


class StrictInput(pydantic.BaseModel):
    """Base of input models: unknown keys and loose types are refused."""

    model_config = pydantic.ConfigDict(extra="forbid", strict=True, frozen=True)


def aware(value: datetime | None, field: str) -> datetime | None:
    """An instant that names its time zone, moved to UTC; raises ValidationError for a naive one.

    Filters and log reads take a time from a client who may be anywhere: guessing UTC would answer for
    the wrong hours, so both surfaces refuse it the same way.
    """
    if value is not None and value.tzinfo is None:
        raise ValidationError(f"Invalid {field}", field=field, reason="Give a time zone (e.g. Z)")
    return in_utc(value, field)


def in_utc(value: datetime | None, field: str) -> datetime | None:
    """An aware instant moved to UTC (naive is taken as UTC); raises ValidationError when UTC cannot hold it.

    `9999-12-31T23:59:59-23:59` parses, but is past year 9999 in UTC: the database drivers fail on it.
    """
    if value is None:
        return None
    try:
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except OverflowError:
        raise ValidationError("Invalid date-time", field=field, reason="Out of range in UTC") from None


def field_path(loc: tuple[Any, ...], prefix: str = "") -> str:
    """`("source", "connection")` -> `source.connection`; list indexes as `[0]`."""
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif path:
            path += f".{part}"
        else:
            path = str(part)
    return path


def parse(model: type[M], data: Any, what: str, prefix: str = "") -> M:
    """Validate `data` into `model`, or raise ValidationError naming the first bad field."""
    if not isinstance(data, Mapping):
        raise ValidationError(f"Invalid {what}: expected a JSON object", field=prefix or "body",
                              reason="Expected an object")
    try:
        return model.model_validate(dict(data))
    except pydantic.ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        first = errors[0]
        loc = tuple(p for p in first["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        reason = "Unknown field" if first["type"] == "extra_forbidden" else first["msg"]
        problems = [{"field": field_path(tuple(e["loc"]), prefix), "reason": e["msg"]} for e in errors]
        raise ValidationError(f"Invalid {what}", field=field_path(loc, prefix), reason=reason,
                              errors=problems) from None
