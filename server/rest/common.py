"""What REST handlers share beyond JSON in and out (server.edge.bodies): paging parameters, links, ETags."""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

import orjson
from aiohttp import web
from yarl import URL

from resolvers.errors import ValidationError
from resolvers.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page, PageRequest
from server.edge.responses import json_response

# Query integers are plain ASCII digits (no `+`, `_`, spaces or other scripts' digits) and, like a
# GraphQL Int, fit in 32 bits: offsets derived from them stay far inside what SQL and orjson accept.
MAX_QUERY_INT = 2**31 - 1
_DIGITS = re.compile(r"[0-9]+")


def int_param(request: web.Request, name: str, minimum: int = 0, maximum: int = MAX_QUERY_INT) -> int | None:
    """An integer query parameter within [minimum, maximum]; None when absent; raises ValidationError."""
    raw = request.query.get(name)
    if raw is None:
        return None
    if not _DIGITS.fullmatch(raw.removeprefix("-")):
        raise ValidationError(f"Invalid query parameter {name}", field=name, reason="Expected an integer")
    # Past 10 digits it is out of range whatever the bounds; do not make Python build a huge int.
    value = int(raw) if len(raw) <= 11 else (maximum + 1 if raw[0] != "-" else minimum - 1)
    if value < minimum:
        raise ValidationError(f"Invalid query parameter {name}", field=name, reason=f"Must be at least {minimum}")
    if value > maximum:
        raise ValidationError(f"Invalid query parameter {name}", field=name, reason=f"At most {maximum}")
    return value


def page_request(request: web.Request) -> PageRequest:
    """`page`/`per_page` or `limit`/`offset` (default 20 a page, at most 100)."""
    page, per_page = int_param(request, "page", 1), int_param(request, "per_page", 1, MAX_PAGE_SIZE)
    limit, offset = int_param(request, "limit", 1, MAX_PAGE_SIZE), int_param(request, "offset", 0)
    if (page is not None or per_page is not None) and (limit is not None or offset is not None):
        raise ValidationError("Use page/per_page or limit/offset, not both", field="page",
                              reason="Mixed paging styles")
    if page is not None or per_page is not None:
        size = per_page or DEFAULT_PAGE_SIZE
        return PageRequest(limit=size, offset=((page or 1) - 1) * size)
    return PageRequest(limit=limit or DEFAULT_PAGE_SIZE, offset=offset or 0)


def _link(request: web.Request, offset: int, limit: int) -> str:
    query = {k: v for k, v in request.query.items() if k not in {"page", "per_page", "limit", "offset"}}
    if "limit" in request.query or "offset" in request.query:
        query.update(limit=str(limit), offset=str(offset))
    else:
        query.update(page=str(offset // limit + 1), per_page=str(limit))
    return str(URL(request.path).with_query(query))


def page_response(request: web.Request, page: Page[Any], shape: Callable[[Any], Any],
                  items: Iterable[Any] | None = None) -> web.Response:
    """A list body `{data, meta, links}` with `Link` and `X-Total-Count` headers."""
    listed = page.items if items is None else items
    links: dict[str, str | None] = {"self": _link(request, page.offset, page.limit), "next": None,
                                    "prev": None}
    if page.has_next:
        links["next"] = _link(request, page.offset + page.limit, page.limit)
    if page.has_previous:
        links["prev"] = _link(request, max(page.offset - page.limit, 0), page.limit)
    body = {
        "data": shape.many(listed) if isinstance(shape, EncodedShape) else [shape(item) for item in listed],
        "meta": {"total": page.total, "limit": page.limit, "offset": page.offset,
                 "page": page.offset // page.limit + 1, "per_page": page.limit},
        "links": links,
    }
    headers = {"X-Total-Count": str(page.total)}
    rels = [f'<{url}>; rel="{rel}"' for rel, url in links.items() if url and rel != "self"]
    if rels:
        headers["Link"] = ", ".join(rels)
    return json_response(body, headers=headers)


class EncodedShape:
    """`shape` of a read model, encoded as JSON once per model object and reused while that object is
    read again.

    A page's items come from a builder that keeps one immutable view per stored state of a row
    (server.models.rows.RowBuilder), so an unchanged row is the same object on the next page and its JSON
    is spliced in as it is (orjson.Fragment); a changed row is a new object. Entries are matched by identity
    and hold their object, so an id is never reused while its entry lives; at most `capacity` are kept.
    """

    def __init__(self, shape: Callable[[Any], Any], capacity: int = 2048) -> None:
        self.shape = shape
        self.capacity = capacity
        self._kept: OrderedDict[int, tuple[Any, orjson.Fragment]] = OrderedDict()

    def __call__(self, item: Any) -> orjson.Fragment:
        entry = self._kept.get(id(item))
        if entry is not None and entry[0] is item:
            self._kept.move_to_end(id(item))
            return entry[1]
        fragment = orjson.Fragment(orjson.dumps(self.shape(item), option=orjson.OPT_UTC_Z))
        self._kept[id(item)] = (item, fragment)
        if len(self._kept) > self.capacity:
            self._kept.popitem(last=False)
        return fragment

    def many(self, items: Iterable[Any]) -> list[orjson.Fragment]:
        """Each item's fragment, in order (a page): what calling this on each gives, in one call."""
        kept, found = self._kept, []
        for item in items:
            entry = kept.get(id(item))
            if entry is not None and entry[0] is item:
                kept.move_to_end(id(item))
                found.append(entry[1])
            else:
                found.append(self(item))
        return found


def etag(object_id: str, revision: int) -> str:
    """The strong ETag of one revision of an object: `"<id>.<revision>"`."""
    return f'"{object_id}.{revision}"'


def if_match(request: web.Request, object_id: str) -> int | None:
    """The revision an `If-Match` header names; None without one (or with `*`), -1 when it cannot match."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    owner, _, revision = header.strip().removeprefix("W/").strip('"').rpartition(".")
    # An ETag of another object, or a malformed one (other scripts' digits, past 64 bits), is stale by definition.
    return int(revision) if owner == object_id and _DIGITS.fullmatch(revision) and len(revision) <= 18 else -1
