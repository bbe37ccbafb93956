"""Plain rows for hot read paths: the ORM writes the SQL, the rows come back as tuples of Python values.

Loading model objects costs far more than the query on a list page (building each instance, running
every field's converter through several layers of calls). Here the query set only builds the
statement; the rows are read with one converter per column that needs one (JSON text, stored
timestamps, SQLite's 0/1 booleans, sealed values) and taken as they are otherwise, so the values are
those the model's fields would give, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import orjson
from tortoise import fields
from tortoise.models import Model
from tortoise.queryset import QuerySet

from server.crypto.fields import SealedJSONField, SealedTextField
from server.crypto.keys import active_keyring
from server.edge.cache import LruCache
from server.models.base import Timestamp, connection_of
from server.point_reads import SqliteReader, reader_of

Converter = Callable[[Any], Any]
T = TypeVar("T")


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


class KeptBuild(Generic[T]):
    """What `build` makes of stored values (hashable: raw rows, tuples of them, flags), kept by those values
    under the secret keyring in use: the same stored values always build the same object, so values unchanged
    since they were last read are neither converted nor built again, and changed values are a new key.
    Nothing is invalidated or expires; the least recently read fall out first.

    What it builds is shared between requests, so it must be immutable (the frozen views are, and their
    dicts and lists are only read).
    """

    def __init__(self, build: Callable[..., T], capacity: int = 2048) -> None:
        self._build = build
        self._kept = functools.lru_cache(maxsize=capacity)(self._fresh)

    def _fresh(self, keyring: object, *values: Any) -> T:
        return self._build(*values)

    def __call__(self, *values: Any) -> T:
        try:
            return self._kept(active_keyring(), *values)
        except TypeError:
            # A value the driver decoded into a dict or list cannot be a key: built every time. (A TypeError
            # of the build itself is raised again by this second build.)
            return self._build(*values)

    def cache_info(self) -> Any:
        """Hits, misses and size of what is kept (functools' figures)."""
        return self._kept.cache_info()


@dataclass(frozen=True)
class Tally:
    """Where triggers keep how many rows a model has per value of one column: `column` of `table`'s row whose
    `key` is that value (datasets: `dataset_count` of `dataset_list_versions` by `workspace_id`)."""

    table: str
    column: str
    key: str

    def sql(self, dialect: str) -> str:
        marker = "?" if dialect == "sqlite" else "$1"
        return f'SELECT "{self.column}" FROM "{self.table}" WHERE "{self.key}" = {marker}'


class RowBuilder(Generic[T]):
    """Builds a read model from one stored row of `columns` of `model`, kept by the row's stored values
    (KeptBuild): a row unchanged since it was last read is neither converted nor built again.

    `stamp` names a column that triggers change on every write to a row (datasets' `row_stamp`, not a
    field of the model): pages of such a builder (`built_page`) read each row's key and stamp first, and
    keep their read models by those, so that rows seen before are not even loaded again. `tally` says where
    triggers keep the number of rows per value of one column: a page filtered by that column alone reads its
    total there instead of counting the rows.
    """

    def __init__(self, model: type[Model], columns: Sequence[str], build: Callable[[tuple[Any, ...]], T],
                 capacity: int = 2048, stamp: str | None = None, tally: Tally | None = None) -> None:
        self.model = model
        self.columns = tuple(columns)
        self._build = build
        self._kept = KeptBuild(self._fresh, capacity)
        self.stamp = stamp
        self.tally = tally
        self.stamped: LruCache[tuple[Any, ...], T] = LruCache(capacity)
        self._key_index = self.columns.index(model._meta.pk_attr) if stamp is not None else 0

    def _fresh(self, raw: tuple[Any, ...]) -> T:
        return self._build(converted(self.model, self.columns, raw))

    def __call__(self, raw: Sequence[Any]) -> T:
        return self._kept(tuple(raw))

    async def read(self, query: QuerySet[Any]) -> list[T]:
        """What this builder makes of each row `query` selects."""
        return await built_rows(query, self)

    def cache_info(self) -> Any:
        """Hits, misses and size of what is kept (functools' figures)."""
        return self._kept.cache_info()

    async def by_stamps(self, keyed: Sequence[Sequence[Any]], read: Statement, dialect: str) -> list[T] | None:
        """The read models of rows named by (key, stamp), in that order: those kept under the same stamp and
        the keyring in use as they are, the others loaded in one statement (`read`) and kept. None when a
        named row is gone by then (deleted since its stamp was read): the caller reads the page again whole.
        """
        keyring = active_keyring()
        found = self.stamped.get_many([(keyring, key, stamp) for key, stamp in keyed])
        missing = [row[0] for row, view in zip(keyed, found, strict=True) if view is None]
        if not missing:
            return found  # type: ignore[return-value]
        loaded: dict[Any, T] = {}
        model = self.model
        sql = _in_sql(model, (self.stamp, *self.columns), model._meta.pk_attr, len(missing), (), dialect)
        for stamp, *raw in await read(sql, missing):
            key = raw[self._key_index]
            loaded[key] = view = self._fresh(tuple(raw))
            self.stamped.put((keyring, key, stamp), view)
        try:
            return [view if view is not None else loaded[row[0]] for row, view in zip(keyed, found, strict=True)]
        except KeyError:
            return None


def converted(model: type[Model], columns: tuple[str, ...], raw: Sequence[Any]) -> tuple[Any, ...]:
    """A stored row of `columns` of `model` as Python values (what plain_rows gives)."""
    return _convert(raw, _converters(model, columns))


async def raw_rows(query: QuerySet[Any], names: tuple[str, ...]) -> list[Any]:
    """The rows `query` selects, as tuples of `names` (model field names) as the database stored them."""
    select = query.values_list(*names)
    # The query set's own statement and parameters (what awaiting it would send), without its row reader.
    select._choose_db_if_not_chosen()
    select._make_query()
    sql, params = select.query.get_parameterized_sql()
    _, raw = await select._db.execute_query(sql, params)
    return raw


def stored_rows(columns: Sequence[str]) -> Callable[[QuerySet[Any]], Awaitable[list[tuple[Any, ...]]]]:
    """A reader of the rows a query selects, as tuples of `columns` as the database stored them."""
    names = tuple(columns)

    async def read(query: QuerySet[Any]) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in await raw_rows(query, names)]

    return read


async def plain_rows(query: QuerySet[Any], columns: Sequence[str]) -> list[tuple[Any, ...]]:
    """The rows `query` selects, as tuples of `columns` (model field names) holding Python values."""
    names = tuple(columns)
    converters = _converters(query.model, names)
    return [_convert(row, converters) for row in await raw_rows(query, names)]


async def built_rows(query: QuerySet[Any], builder: RowBuilder[T]) -> list[T]:
    """The rows `query` selects, each made into a read model by `builder` (kept while its row is unchanged)."""
    if builder.model is not query.model:
        raise ValueError(f"A builder of {builder.model.__name__} rows cannot read {query.model.__name__}")
    return [builder(row) for row in await raw_rows(query, builder.columns)]


def _convert(raw: Sequence[Any], converters: tuple[tuple[int, Converter], ...]) -> tuple[Any, ...]:
    values = list(raw)
    for index, convert in converters:
        value = values[index]
        if value is not None:
            values[index] = convert(value)
    return tuple(values)


def _column(model: type[Model], name: str) -> str:
    """The quoted column of a field of `model`, or `name` itself for a column the model does not map (a stamp)."""
    field = model._meta.fields_map.get(name)
    return f'"{(field.source_field if field is not None else None) or name}"'


def _connection(model: type[Model]) -> Any:
    return connection_of(model)


@functools.lru_cache(maxsize=1024)
def _in_sql(model: type[Model], columns: tuple[str, ...], column: str, count: int, order: tuple[str, ...],
            dialect: str) -> str:
    markers = ", ".join("?" if dialect == "sqlite" else f"${n}" for n in range(1, count + 1))
    sql = (f'SELECT {", ".join(_column(model, field) for field in columns)} FROM "{model._meta.db_table}" '
           f"WHERE {_column(model, column)} IN ({markers})")
    return sql + (f' ORDER BY {", ".join(_column(model, field) for field in order)}' if order else "")


async def plain_rows_in(model: type[Model], columns: Sequence[str], column: str, values: Sequence[Any],
                        order: Sequence[str] = ()) -> list[tuple[Any, ...]]:
    """The rows of `model` whose `column` is one of `values`, as tuples of `columns`, ordered by `order`.

    One statement whose SQL is built once per column set and number of values: for the rows that belong
    to a page (a job's steps) and reads of one object by id, where building the query through the ORM
    (a hundred bound values) costs more than running it.
    """
    converters = _converters(model, tuple(columns))
    return [_convert(row, converters) for row in await raw_rows_in(model, columns, column, values, order)]


async def raw_rows_in(model: type[Model], columns: Sequence[str], column: str, values: Sequence[Any],
                      order: Sequence[str] = ()) -> list[tuple[Any, ...]]:
    """plain_rows_in's rows as the database stored them (tuples), for builders that key on them."""
    if not values:
        return []
    conn = _connection(model)
    sql = _in_sql(model, tuple(columns), column, len(values), tuple(order), conn.capabilities.dialect)
    # On SQLite the point reader answers (a page's children: no hop to the ORM's thread), as for the page itself.
    return [tuple(row) for row in await statement_runner(conn)(sql, values)]


async def plain_rows_by_id(model: type[Model], columns: Sequence[str], ids: Sequence[Any]) -> list[tuple[Any, ...]]:
    """The rows of `model` whose primary key is in `ids` (in no particular order), as tuples of `columns`."""
    return await plain_rows_in(model, columns, model._meta.pk_attr, ids)


def _where_sql(model: type[Model], where: tuple[str, ...], dialect: str) -> str:
    markers = ["?" if dialect == "sqlite" else f"${n}" for n in range(1, len(where) + 1)]
    condition = " AND ".join(f"{_column(model, column)} = {marker}"
                             for column, marker in zip(where, markers, strict=True))
    return f" WHERE {condition}" if condition else ""


@functools.lru_cache(maxsize=256)
def _count_sql(model: type[Model], where: tuple[str, ...], dialect: str) -> str:
    return f'SELECT COUNT(*) FROM "{model._meta.db_table}"{_where_sql(model, where, dialect)}'


@functools.lru_cache(maxsize=256)
def _page_sql(model: type[Model], columns: tuple[str, ...], where: tuple[str, ...], order: tuple[str, ...],
              dialect: str) -> str:
    markers = iter("?" if dialect == "sqlite" else f"${n}" for n in range(len(where) + 1, len(where) + 3))
    table = f'"{model._meta.db_table}"'
    clause = _where_sql(model, where, dialect)
    ordering = ", ".join(f"{_column(model, field.lstrip('-'))}{' DESC' if field.startswith('-') else ''}"
                         for field in order)
    page = (f'SELECT {", ".join(_column(model, field) for field in columns)} FROM {table}{clause} '
            f"ORDER BY {ordering} LIMIT {next(markers)} OFFSET {next(markers)}")
    return page


# Runs one statement and gives its rows: the point reader where it answers, else the ORM's connection.
Statement = Callable[[str, Sequence[Any]], Awaitable[Sequence[Sequence[Any]]]]


def statement_runner(conn: Any) -> Statement:
    """How `built_page` runs its statements on `conn`: on SQLite the point reader (server.point_reads) answers
    without the hop to the ORM's thread, and does not keep the answers (the builder keeps the views); a
    statement it cannot answer (over its step budget, a locked file) goes to the ORM's connection. On
    PostgreSQL that reader is one connection, one statement at a time: pages go through the pool."""
    reader = reader_of(conn)

    async def run(sql: str, params: Sequence[Any]) -> Sequence[Sequence[Any]]:
        if isinstance(reader, SqliteReader):
            found = await reader.rows(sql, params, keep=False)
            if found is not None:
                return found
        _, rows = await conn.execute_query(sql, list(params))
        return rows

    return run


async def _total(run: Statement, model: type[Model], where: dict[str, Any], dialect: str,
                 tally: Tally | None = None) -> int:
    """How many rows of `model` match `where`: read from `tally` when it keeps that number, else counted."""
    values = list(where.values())
    kept = await run(tally.sql(dialect), values) if tally is not None and tuple(where) == (tally.key,) else ()
    return int((kept or await run(_count_sql(model, tuple(where), dialect), values))[0][0])


async def stored_page(model: type[Model], columns: Sequence[str], where: dict[str, Any], order: Sequence[str],
                      limit: int, offset: int) -> tuple[int, list[tuple[Any, ...]]]:
    """built_page's count and page for callers that build from stored rows themselves (a job list page builds
    each job with its steps): the rows as the database stored them, tuples of `columns`."""
    conn = _connection(model)
    dialect = conn.capabilities.dialect
    run = statement_runner(conn)
    total = await _total(run, model, where, dialect)
    page_sql = _page_sql(model, tuple(columns), tuple(where), tuple(order), dialect)
    return total, [tuple(row) for row in await run(page_sql, [*where.values(), limit, offset])]


async def built_page(builder: RowBuilder[T], where: dict[str, Any], order: Sequence[str], limit: int,
                     offset: int) -> tuple[int, list[T]]:
    """How many rows of the builder's model match `where` (column = value, all of them), and `limit` of them
    from `offset` in `order` (field names, `-` for descending), each made into a read model by `builder`.

    Statements whose SQL is built once per model, columns, condition columns and order: the hot list
    pages (a workspace's datasets), where building them through the ORM costs more than running them. With
    a stamped builder the page reads keys and stamps, and loads only the rows not seen under their stamp
    (RowBuilder.by_stamps): a count, the page, and at most one more statement. The count is the builder's
    tally where it has one for `where` (one row read, however many rows match); without its row (no trigger
    has written it yet) the rows are counted.
    """
    model = builder.model
    conn = _connection(model)
    dialect = conn.capabilities.dialect
    run = statement_runner(conn)
    values = list(where.values())
    page_sql = _page_sql(model, builder.columns, tuple(where), tuple(order), dialect)
    total = await _total(run, model, where, dialect, builder.tally)
    if builder.stamp is not None:
        stamped_sql = _page_sql(model, (model._meta.pk_attr, builder.stamp), tuple(where), tuple(order), dialect)
        built = await builder.by_stamps(await run(stamped_sql, [*values, limit, offset]), run, dialect)
        if built is not None:
            return total, built
    return total, [builder(row) for row in await run(page_sql, [*values, limit, offset])]
