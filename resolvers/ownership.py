"""Workspace ownership: an object of another workspace does not exist for the caller."""

from __future__ import annotations

from typing import Any, TypeVar

from resolvers.errors import NotFound
from resolvers.principal import Principal

M = TypeVar("M")


async def load_owned(model: type[M], kind: str, principal: Principal, object_id: str) -> M:
    """The caller's row with this id; raises NotFound (the same for a missing or a foreign id)."""
    row = await model.get_or_none(id=object_id, workspace_id=principal.workspace_id)  # type: ignore[attr-defined]
    if row is None:
        raise NotFound(kind, object_id)
    return row


async def load_many_owned(model: type[M], principal: Principal, ids: list[str]) -> list[M | None]:
    """The caller's rows in the order of `ids`, None where missing or foreign (for DataLoaders)."""
    rows: list[Any] = await model.filter(id__in=ids, workspace_id=principal.workspace_id)  # type: ignore[attr-defined]
    by_id = {row.id: row for row in rows}
    return [by_id.get(object_id) for object_id in ids]
