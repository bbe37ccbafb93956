"""Paging of lists: offsets for REST, opaque keyset cursors for GraphQL connections."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.queryset import QuerySet

from resolvers.errors import ValidationError
from resolvers.ownership import well_formed_id
from server.models.rows import RowBuilder, built_page, stored_page, stored_rows

T = TypeVar("T")
U = TypeVar("U")
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MAX_CURSOR_LENGTH = 200
# What turns a page's query set into its items (server.models.rows: `RowBuilder.read`, `stored_rows`).
RowReader = Callable[[QuerySet[Any]], Awaitable[Sequence[Any]]]


@dataclass(frozen=True)
class PageRequest:
    """Which slice of a list to return; `after` is a cursor and wins over `offset`."""

    limit: int = DEFAULT_PAGE_SIZE
    offset: int = 0
    after: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_PAGE_SIZE:
            raise ValidationError("Invalid page size", field="limit",
                                  reason=f"Must be between 1 and {MAX_PAGE_SIZE}")
        if self.offset < 0:
            raise ValidationError("Invalid offset", field="offset", reason="Must not be negative")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One slice of a list and where it sits in the whole."""

    items: list[T]
    total: int
    limit: int
    offset: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.offset > 0

    def map(self, convert: Callable[[T], U]) -> Page[U]:
        """The same slice with each item converted (rows to read models)."""
        return Page(items=[convert(item) for item in self.items], total=self.total, limit=self.limit,
                    offset=self.offset, has_next=self.has_next)


def encode_cursor(row: Any) -> str:
    """An opaque cursor naming the row's place in (created_at, id) order."""
    raw = f"{row.created_at.isoformat()}|{row.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (created_at, id) a cursor names; raises ValidationError for anything this server did not make."""
    invalid = ValidationError("Invalid cursor", field="after", reason="Not a cursor returned by this server")
    # A cursor this server made is well under 100 characters; its id part reaches the ORM as a filter value.
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise invalid
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, row_id = raw.split("|", 1)
        when = datetime.fromisoformat(stamp)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise invalid from None
    if not well_formed_id(row_id) or when.tzinfo is None:
        raise invalid
    return when, row_id


def _order(newest_first: bool) -> tuple[str, str]:
    return ("-created_at", "-id") if newest_first else ("created_at", "id")


def _page(rows: Sequence[Any], total: int, request: PageRequest, offset: int) -> Page[Any]:
    # `rows` holds one row past the page when there is a next page.
    return Page(items=list(rows[: request.limit]), total=total, limit=request.limit, offset=offset,
                has_next=len(rows) > request.limit)


async def _models(window: QuerySet[Any]) -> list[Any]:
    return await window


async def paginate(query: QuerySet[Any], request: PageRequest, newest_first: bool = True,
                   read: RowReader | None = None) -> Page[Any]:
    """Run `query` for one page, in (created_at, id) order, with the total count.

    The items are model objects, or what `read` makes of the page's query set (plain rows, read models).
    """
    total = await query.count()
    window = query.order_by(*_order(newest_first))
    offset = request.offset
    if request.after is not None:
        stamp, row_id = decode_cursor(request.after)
        if newest_first:
            after = Q(created_at__lt=stamp) | Q(created_at=stamp, id__lt=row_id)
        else:
            after = Q(created_at__gt=stamp) | Q(created_at=stamp, id__gt=row_id)
        remaining = await query.filter(after).count()
        offset = total - remaining
        window = window.filter(after)
    else:
        window = window.offset(offset)
    rows = await (read or _models)(window.limit(request.limit + 1))
    return _page(rows, total, request, offset)


async def paginate_built(builder: RowBuilder[Any], where: dict[str, Any], request: PageRequest,
                         newest_first: bool = True) -> Page[Any]:
    """`paginate` for a list filtered only by equal columns (`where`), with `builder`'s read models as items:
    an offset page is read with statements built once (server.models.rows.built_page); a cursor page goes
    through the ORM as any other."""
    if request.after is not None:
        return await paginate(builder.model.filter(**where), request, newest_first, read=builder.read)
    total, rows = await built_page(builder, where, _order(newest_first), request.limit + 1, request.offset)
    return _page(rows, total, request, request.offset)


async def paginate_stored(model: type[Model], columns: Sequence[str], where: dict[str, Any], request: PageRequest,
                          newest_first: bool = True) -> Page[tuple[Any, ...]]:
    """`paginate` for a list filtered only by equal columns (`where`), with the rows as stored (tuples of
    `columns`) as items: an offset page with statements built once (server.models.rows.stored_page), a cursor
    page through the ORM."""
    if request.after is not None:
        return await paginate(model.filter(**where), request, newest_first, read=stored_rows(columns))
    total, rows = await stored_page(model, columns, where, _order(newest_first), request.limit + 1, request.offset)
    return _page(rows, total, request, request.offset)
