"""What every stored row has: an opaque prefixed id, a workspace and timestamps."""

from __future__ import annotations

import functools
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.context import require_context
from tortoise.models import Model

from server.point_reads import reader_of


def connection_of(model: type[Model]) -> BaseDBAsyncClient:
    """The ORM connection `model` uses in the current context: the lookup `connections.get` makes, without its
    proxy and its per-call import (a few microseconds on every request's key lookup)."""
    return require_context().connections.get(model._meta.default_connection or "default")


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


async def select_one(model: type[Model], columns: Sequence[str], column: str, value: Any, *,
                     versions: Mapping[str, type[Model]] | None = None) -> dict[str, Any] | None:
    """One row of `model` where `column` equals `value`, as Python values, or None.

    Plain SQL for the few lookups on every request (the API key, a list's version): building the ORM
    query and a model object costs several times more than running the statement. Outside a transaction
    it runs on the database's point reader (server.point_reads), not through the ORM's connection.
    `versions` names version tables keyed by workspace (`workspace_id`, `version`): each one's version for
    the row's workspace is read in the same statement, under its name (0 when the workspace has no row yet).
    """
    row = await select_row(model, columns, column, value, versions=versions)
    if row is None:
        return None
    fields_map = model._meta.fields_map
    found = {name: fields_map[name].to_python_value(row[index]) for index, name in enumerate(columns)}
    for offset, name in enumerate(versions or (), start=len(columns)):
        found[name] = int(row[offset] or 0)
    return found


async def select_row(model: type[Model], columns: Sequence[str], column: str, value: Any, *,
                     versions: Mapping[str, type[Model]] | None = None) -> Sequence[Any] | None:
    """select_one's row as the database returns it (columns, then versions), for callers that convert it
    themselves (and may skip converting a row they have seen before)."""
    conn = connection_of(model)
    tables = tuple((name, m._meta.db_table) for name, m in (versions or {}).items())
    sql = _select_one_sql(model, tuple(columns), column, tables, conn.capabilities.dialect)
    # The connection's point reader when it has one (server.point_reads); None from it means "ask the ORM's".
    reader = reader_of(conn)
    rows = await reader.rows(sql, (value,)) if reader is not None else None
    if rows is None:
        _, rows = await conn.execute_query(sql, [value])
    return rows[0] if rows else None


@functools.cache
def _select_one_sql(model: type[Model], columns: tuple[str, ...], column: str,
                    versions: tuple[tuple[str, str], ...], dialect: str) -> str:
    marker = "?" if dialect == "sqlite" else "$1"
    selected = [f't."{name}"' for name in columns]
    selected += [f'(SELECT v."version" FROM "{table}" v WHERE v."workspace_id" = t."workspace_id")'
                 for _, table in versions]
    return (f'SELECT {", ".join(selected)} FROM "{model._meta.db_table}" t WHERE t."{column}" = {marker} '
            "LIMIT 1")
