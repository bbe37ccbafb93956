"""Pages of one child list for many parents at once, for the DataLoaders of nested connections.

A page of 100 pipelines, each with a page of its jobs, would run `paginate` once per pipeline. Here one
statement numbers every parent's rows in the list's (created_at, id) order (`ROW_NUMBER() OVER (PARTITION
BY parent ...)`, SQLite 3.25+ and PostgreSQL), counts them, counts those at or before the cursor, and keeps
each parent's slice. Each page is the one `paginate` returns for its parent alone: the same rows in the
same order, the same total, offset and has_next.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from tortoise.models import Model

from resolvers.errors import DoccError, NotFound, ValidationError
from resolvers.ownership import well_formed_id
from resolvers.pagination import Page, PageRequest, decode_cursor
from server.models.base import connection_of

T = TypeVar("T")
# One (parent id, page request) per nested connection that a query selects.
PageKey = tuple[str, PageRequest]


@dataclass(frozen=True)
class ChildList:
    """Which rows a parent's list holds: the `model` rows whose column `parent` names the parent.

    With `owner`, a parent is looked up in that table too (in the caller's workspace, and not soft-deleted
    when `live` names the column that is null while it exists); a parent not found there gets NotFound, as
    `load_owned` would give it. Without `owner`, the rows themselves are filtered by workspace and a parent
    with none has an empty page.
    """

    model: type[Model]
    parent: str
    owner: type[Model] | None = None
    kind: str = ""
    live: str | None = None


async def pages_by_parent(children: ChildList, workspace_id: str, keys: Sequence[PageKey],
                          views: Callable[[list[Any]], Awaitable[list[T]]]) -> list[Page[T] | DoccError]:
    """The page of each key, in key order, newest first: one statement for each distinct page request
    (plus what `views` reads for all their rows at once). A bad cursor fails the keys that carry it (as
    ValidationError), a parent missing from `owner` its own key (as NotFound)."""
    groups: dict[PageRequest, list[str]] = {}
    for parent_id, request in keys:
        groups.setdefault(request, []).append(parent_id)
    found: dict[PageKey, Page[T] | DoccError] = {}
    for request, parent_ids in groups.items():
        try:
            pages = await _pages(children, workspace_id, list(dict.fromkeys(parent_ids)), request)
        except ValidationError as error:
            found.update(((parent_id, request), error) for parent_id in parent_ids)
            continue
        made = iter(await views([row for page in pages.values() for row in page.items]))
        # Each page takes its rows' views in the order its rows were handed over (the pages' order).
        viewed = {parent_id: replace(page, items=[next(made) for _ in page.items]) for parent_id, page in pages.items()}
        for parent_id in parent_ids:
            page = viewed.get(parent_id)
            found[(parent_id, request)] = NotFound(children.kind, parent_id) if page is None else page
    return [found[key] for key in keys]


def each(convert: Callable[[Any], T]) -> Callable[[list[Any]], Awaitable[list[T]]]:
    """`views` for `pages_by_parent` that converts row by row."""
    async def views(rows: list[Any]) -> list[T]:
        return [convert(row) for row in rows]
    return views


@dataclass
class _Slice:
    total: int
    skipped: int
    rows: list[Any]


async def _pages(children: ChildList, workspace_id: str, parent_ids: list[str],
                 request: PageRequest) -> dict[str, Page[Any]]:
    """Each found parent's page of rows (pages are not built for parents missing from `owner`)."""
    cursor = decode_cursor(request.after) if request.after is not None else None
    wanted = [parent_id for parent_id in parent_ids if well_formed_id(parent_id)]
    # Without a cursor every parent skips `offset` rows; with one, the rows at or before it (counted below).
    skipped = 0 if cursor is not None else request.offset
    slices: dict[str, _Slice] = {} if children.owner else {parent_id: _Slice(0, skipped, []) for parent_id in wanted}
    if wanted:
        model = children.model
        conn = connection_of(model)
        sql, values = _statement(children, conn.capabilities.dialect, workspace_id, wanted, request, cursor)
        _, rows = await conn.execute_query(sql, values)
        for row in rows:
            found = slices.setdefault(row["_parent"], _Slice(0, skipped, []))
            if row["_rn"] is None:
                continue  # a parent with no rows
            found.total, found.skipped = int(row["_total"]), int(row["_skipped"])
            if row["id"] is not None:  # a row of the page (not the first row, kept only for the counts)
                found.rows.append(model._init_from_db(**row))  # as the ORM builds its rows
    return {parent_id: Page(items=found.rows, total=found.total, limit=request.limit, offset=found.skipped,
                            has_next=found.total > found.skipped + request.limit)
            for parent_id, found in slices.items()}


def _statement(children: ChildList, dialect: str, workspace_id: str, parent_ids: list[str], request: PageRequest,
               cursor: tuple[Any, str] | None) -> tuple[str, list[Any]]:
    """The statement and its values.

    The parents' rows are numbered on their ids alone (one sort, which the counts share), and only the
    rows of the pages are then read whole. Each parent keeps its page, and its first row for the counts
    (read no further): with a cursor, a parent whose rows all precede it has an empty page but still a
    total and rows skipped.
    """
    values: list[Any] = []

    def bind(value: Any) -> str:
        values.append(value)
        return "?" if dialect == "sqlite" else f"${len(values)}"

    model, parent, table = children.model, children.parent, children.model._meta.db_table
    window = f't."{parent}" ORDER BY t."created_at" DESC, t."id" DESC'
    whole = f'(PARTITION BY {window} ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)'
    if cursor is None:
        skipped = str(int(request.offset))
    else:
        stamp = model._meta.fields_map["created_at"].to_db_value(cursor[0], model)
        after = f't."created_at" < {bind(stamp)} OR (t."created_at" = {bind(stamp)} AND t."id" < {bind(cursor[1])})'
        skipped = f"SUM(CASE WHEN {after} THEN 0 ELSE 1 END) OVER {whole}"
    numbered = (f'SELECT t."id" AS "_id", t."{parent}" AS "_parent", '
                f'ROW_NUMBER() OVER (PARTITION BY {window}) AS "_rn", COUNT(*) OVER {whole} AS "_total", '
                f'{skipped} AS "_skipped" '
                f'FROM "{table}" t WHERE t."{parent}" IN ({", ".join(bind(i) for i in parent_ids)})')
    if children.owner is None:
        numbered += f' AND t."workspace_id" = {bind(workspace_id)}'
    kept = f'((n."_rn" > n."_skipped" AND n."_rn" <= n."_skipped" + {int(request.limit)}) OR n."_rn" = 1)'
    rows = f'LEFT JOIN "{table}" c ON c."id" = n."_id" AND n."_rn" > n."_skipped"'
    counts = 'n."_rn", n."_total", n."_skipped"'
    if children.owner is None:
        return f'SELECT n."_parent", {counts}, c.* FROM ({numbered}) n {rows} WHERE {kept} ORDER BY n."_rn"', values
    owner = (f'p."id" IN ({", ".join(bind(i) for i in parent_ids)}) '
             f'AND p."workspace_id" = {bind(workspace_id)}')
    if children.live:
        owner += f' AND p."{children.live}" IS NULL'
    sql = (f'SELECT p."id" AS "_parent", {counts}, c.* FROM "{children.owner._meta.db_table}" p '
           f'LEFT JOIN ({numbered}) n ON n."_parent" = p."id" AND {kept} {rows} WHERE {owner} ORDER BY n."_rn"')
    return sql, values
