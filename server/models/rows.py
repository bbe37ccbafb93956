"""Plain rows for hot read paths: the ORM writes the SQL, the rows come back as tuples of Python values.

Loading model objects costs far more than the query on a list page (building each instance, running
every field's converter through several layers of calls). Here the query set only builds the
statement; the rows are read with one converter per column that needs one (JSON text, stored
timestamps, SQLite's 0/1 booleans, sealed values) and taken as they are otherwise, so the values are
those the model's fields would give, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from tortoise import connections, fields
from tortoise.models import Model
from tortoise.queryset import QuerySet

from server.crypto.fields import SealedJSONField, SealedTextField
from server.models.base import Timestamp

Converter = Callable[[Any], Any]


def _timestamp(value: Any) -> datetime | None:
    # The server runs with use_tz and UTC: SQLite gives the stored ISO text, PostgreSQL an aware datetime.
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return Timestamp().to_python_value(value)
    if isinstance(value, datetime):
        if value.tzinfo is UTC:
            return value
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return Timestamp().to_python_value(value)


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, (str, bytes)) else value


def _boolean(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _float(value: Any) -> float | None:
    return value if value is None or isinstance(value, float) else float(value)


def _converter(field: fields.Field) -> Converter | None:
    """What turns a raw value of `field` into its Python value; None when the raw value already is it."""
    if isinstance(field, (SealedJSONField, SealedTextField)):
        return field.to_python_value
    if isinstance(field, fields.DatetimeField):
        return _timestamp
    if isinstance(field, fields.JSONField):
        # Only the stock decoder is ours to replace; a field with its own decoder or a model type reads
        # itself.
        stock = field.decoder is orjson.loads and "field_type" not in field.__dict__
        return _json if stock else field.to_python_value
    if isinstance(field, fields.BooleanField):
        return _boolean
    if isinstance(field, fields.FloatField):
        return _float
    if isinstance(field, (fields.CharField, fields.TextField, fields.IntField, fields.BigIntField,
                          fields.SmallIntField)):
        return None
    return field.to_python_value


@functools.cache
def _converters(model: type[Model], columns: tuple[str, ...]) -> tuple[tuple[int, Converter], ...]:
    fields_map = model._meta.fields_map
    found = []
    for index, name in enumerate(columns):
        field = fields_map[name]
        if isinstance(field, fields.relational.ForeignKeyFieldInstance):  # `pipeline_id` names the raw column
            raise ValueError(f"Name the column of {name}, not the relation")
        converter = _converter(field)
        if converter is not None:
            found.append((index, converter))
    return tuple(found)


async def plain_rows(query: QuerySet[Any], columns: Sequence[str]) -> list[tuple[Any, ...]]:
    """The rows `query` selects, as tuples of `columns` (model field names) holding Python values."""
    names = tuple(columns)
    converters = _converters(query.model, names)
    select = query.values_list(*names)
    # The query set's own statement and parameters (what awaiting it would send), without its row reader.
    select._choose_db_if_not_chosen()
    select._make_query()
    sql, params = select.query.get_parameterized_sql()
    _, raw = await select._db.execute_query(sql, params)
    return [_convert(row, converters) for row in raw]


def _convert(raw: Sequence[Any], converters: tuple[tuple[int, Converter], ...]) -> tuple[Any, ...]:
    values = list(raw)
    for index, convert in converters:
        value = values[index]
        if value is not None:
            values[index] = convert(value)
    return tuple(values)


@functools.lru_cache(maxsize=1024)
def _in_sql(model: type[Model], columns: tuple[str, ...], column: str, count: int, order: tuple[str, ...],
            dialect: str) -> str:
    def name(field: str) -> str:
        return f'"{model._meta.fields_map[field].source_field or field}"'

    markers = ", ".join("?" if dialect == "sqlite" else f"${n}" for n in range(1, count + 1))
    sql = (f'SELECT {", ".join(name(field) for field in columns)} FROM "{model._meta.db_table}" '
           f"WHERE {name(column)} IN ({markers})")
    return sql + (f' ORDER BY {", ".join(name(field) for field in order)}' if order else "")


async def plain_rows_in(model: type[Model], columns: Sequence[str], column: str, values: Sequence[Any],
                        order: Sequence[str] = ()) -> list[tuple[Any, ...]]:
    """The rows of `model` whose `column` is one of `values`, as tuples of `columns`, ordered by `order`.

    One statement whose SQL is built once per column set and number of values: for the rows that belong
    to a page (a job's steps) and reads of one object by id, where building the query through the ORM
    (a hundred bound values) costs more than running it.
    """
    if not values:
        return []
    names = tuple(columns)
    converters = _converters(model, names)
    conn = connections.get(model._meta.default_connection or "default")
    sql = _in_sql(model, names, column, len(values), tuple(order), conn.capabilities.dialect)
    _, raw = await conn.execute_query(sql, list(values))
    return [_convert(row, converters) for row in raw]


async def plain_rows_by_id(model: type[Model], columns: Sequence[str], ids: Sequence[Any]) -> list[tuple[Any, ...]]:
    """The rows of `model` whose primary key is in `ids` (in no particular order), as tuples of `columns`."""
    return await plain_rows_in(model, columns, model._meta.pk_attr, ids)
