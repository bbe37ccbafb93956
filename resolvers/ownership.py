"""Workspace ownership: an object of another workspace does not exist for the caller.

Ids are checked for shape before any query: the ORM refuses over-long filter values with an
exception of its own, and a malformed id can name nothing, so it gets the same NotFound as a
missing one.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from resolvers.errors import NotFound
from resolvers.principal import Principal
from server.models.rows import plain_rows_by_id

M = TypeVar("M")
# Every stored id is `<prefix>_<hex>` (or a fixed name such as `ws_default`), at most 40 characters.
MAX_ID_LENGTH = 40
_ID = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_ID_LENGTH}}}")


def well_formed_id(value: Any) -> bool:
    """Whether `value` could be an id this server issued."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def require_id(kind: str, object_id: Any) -> str:
    """`object_id` when it is well formed; raises NotFound (as for a missing id) otherwise."""
    if not well_formed_id(object_id):
        raise NotFound(kind, str(object_id))
    return object_id


async def load_owned(model: type[M], kind: str, principal: Principal, object_id: str, **conditions: Any) -> M:
    """The caller's row with this id (and `conditions`); raises NotFound (the same for a missing, malformed
    or foreign id)."""
    require_id(kind, object_id)
    row = await model.get_or_none(id=object_id, workspace_id=principal.workspace_id, **conditions)  # type: ignore[attr-defined]
    if row is None:
        raise NotFound(kind, object_id)
    return row


async def load_many_owned(model: type[M], principal: Principal, ids: list[str], **conditions: Any) -> list[M | None]:
    """The caller's rows in the order of `ids`, None where missing, malformed, foreign or not meeting
    `conditions` (for DataLoaders)."""
    valid = [object_id for object_id in ids if well_formed_id(object_id)]
    rows: list[Any] = await model.filter(id__in=valid, workspace_id=principal.workspace_id,  # type: ignore[attr-defined]
                                         **conditions) if valid else []
    by_id = {row.id: row for row in rows}
    return [by_id.get(object_id) for object_id in ids]


async def owned_values(model: type[Any], principal: Principal, ids: list[str],
                       columns: tuple[str, ...]) -> list[tuple[Any, ...] | None]:
    """The caller's rows as plain tuples of `columns` (the first is `id`) in the order of `ids`, None where
    missing, malformed or foreign: one statement, no model objects (for reads of one object and DataLoaders)."""
    valid = list(dict.fromkeys(object_id for object_id in ids if well_formed_id(object_id)))
    rows = await plain_rows_by_id(model, (*columns, "workspace_id"), valid)
    by_id = {row[0]: row[:-1] for row in rows if row[-1] == principal.workspace_id}
    return [by_id.get(object_id) for object_id in ids]


async def owned_value(model: type[Any], kind: str, principal: Principal, object_id: str,
                      columns: tuple[str, ...]) -> tuple[Any, ...]:
    """The caller's row with this id as a plain tuple of `columns`; raises NotFound (missing, malformed, foreign)."""
    [row] = await owned_values(model, principal, [require_id(kind, object_id)], columns)
    if row is None:
        raise NotFound(kind, object_id)
    return row
