"""What every stored row has: an opaque prefixed id, a workspace and timestamps."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from tortoise import connections, fields
from tortoise.models import Model


def new_id(prefix: str) -> str:
    """An opaque id such as `ds_5f0c2a9e1b7d4c3a8e6f`."""
    return f"{prefix}_{secrets.token_hex(10)}"


class Timestamp(fields.DatetimeField):
    """A timezone-aware datetime column, read with the standard library's ISO parser.

    The stock field parses each stored string with a pure-Python parser (about 50 microseconds a value;
    a page of 100 jobs with their steps holds a thousand of them). The server runs with `use_tz` and
    UTC (server/db.py), so a stored value is turned into an aware UTC datetime here directly; anything
    unusual goes to the stock field.
    """

    def to_python_value(self, value: Any) -> datetime | None:
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                return super().to_python_value(value)
        if isinstance(value, datetime):
            if value.tzinfo is UTC:
                return value
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return super().to_python_value(value)


class WorkspaceRow(Model):
    """Abstract base: a row owned by one workspace."""

    id = fields.CharField(primary_key=True, max_length=40)
    workspace_id = fields.CharField(max_length=40, db_index=True)
    created_at = Timestamp(auto_now_add=True)
    updated_at = Timestamp(auto_now=True)

    class Meta:
        abstract = True


async def select_one(model: type[Model], columns: Sequence[str], column: str, value: Any) -> dict[str, Any] | None:
    """One row of `model` where `column` equals `value`, as Python values, or None.

    Plain SQL for the few lookups on every request (the API key, a list's version): building the ORM
    query and a model object costs several times more than running the statement.
    """
    conn = connections.get(model._meta.default_connection or "default")
    marker = "?" if conn.capabilities.dialect == "sqlite" else "$1"
    names = ", ".join(f'"{name}"' for name in columns)
    _, rows = await conn.execute_query(
        f'SELECT {names} FROM "{model._meta.db_table}" WHERE "{column}" = {marker} LIMIT 1', [value])
    if not rows:
        return None
    fields_map = model._meta.fields_map
    return {name: fields_map[name].to_python_value(rows[0][index]) for index, name in enumerate(columns)}
