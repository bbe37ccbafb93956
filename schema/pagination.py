"""Cursor connections: edges, pageInfo and totalCount over a domain Page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import strawberry

from resolvers.errors import ValidationError
from resolvers.pagination import MAX_PAGE_SIZE, Page, PageRequest, encode_cursor

T = TypeVar("T")


@strawberry.type(description="Where a page sits in the whole list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow this page.")
    has_previous_page: bool = strawberry.field(description="Items precede this page.")
    start_cursor: str | None = strawberry.field(description="Cursor of the first edge.")
    end_cursor: str | None = strawberry.field(description="Cursor of the last edge; pass it as `after`.")


@strawberry.type(description="One item and its cursor.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Opaque position of this item.")
    node: T = strawberry.field(description="The item.")


@strawberry.type(description="A page of items.")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The items of this page with their cursors.")
    page_info: PageInfo = strawberry.field(description="Paging state.")
    total_count: int = strawberry.field(description="Items in the whole filtered list.")

    @strawberry.field(description="The items of this page without cursors.")
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]


def page_request(first: int, after: str | None) -> PageRequest:
    """`first` (1 to 100) and `after` as a domain page request."""
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise ValidationError("Invalid page size", field="first", reason=f"Must be between 1 and {MAX_PAGE_SIZE}")
    return PageRequest(limit=first, after=after)


def connection(page: Page[Any], convert: Callable[[Any], T]) -> Connection[T]:
    """A Connection from a domain page, converting each row."""
    edges = [Edge(cursor=encode_cursor(row), node=convert(row)) for row in page.items]
    return Connection(
        edges=edges,
        page_info=PageInfo(has_next_page=page.has_next, has_previous_page=page.has_previous,
                           start_cursor=edges[0].cursor if edges else None,
                           end_cursor=edges[-1].cursor if edges else None),
        total_count=page.total,
    )
