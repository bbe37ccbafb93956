"""What every REST handler needs: JSON in, JSON out, paging parameters and links."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import orjson
from aiohttp import web
from yarl import URL

from resolvers.errors import DoccError, ValidationError
from resolvers.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page, PageRequest


class InvalidJson(DoccError):
    code = "INVALID_JSON"
    status = 400


class UnsupportedMediaType(DoccError):
    code = "UNSUPPORTED_MEDIA_TYPE"
    status = 415


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """Serialise with orjson (datetimes as RFC 3339 with a Z)."""
    return web.Response(body=orjson.dumps(data, option=orjson.OPT_UTC_Z), status=status,
                        content_type="application/json", headers=headers)


async def read_json(request: web.Request) -> dict[str, Any]:
    """The JSON object body of a request; raises UnsupportedMediaType, InvalidJson."""
    if request.content_type != "application/json":
        raise UnsupportedMediaType("Send the body as application/json",
                                   {"content_type": request.content_type})
    raw = await request.read()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidJson("The body is not valid JSON", {"reason": str(exc)}) from None
    if not isinstance(body, dict):
        raise ValidationError("Expected a JSON object", field="body", reason="Expected an object")
    return body


def _int_param(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ValidationError(f"Invalid query parameter {name}", field=name,
                              reason="Expected an integer") from None


def page_request(request: web.Request) -> PageRequest:
    """`page`/`per_page` or `limit`/`offset` (default 20 a page, at most 100)."""
    page, per_page = _int_param(request, "page"), _int_param(request, "per_page")
    limit, offset = _int_param(request, "limit"), _int_param(request, "offset")
    if (page is not None or per_page is not None) and (limit is not None or offset is not None):
        raise ValidationError("Use page/per_page or limit/offset, not both", field="page",
                              reason="Mixed paging styles")
    for name, value in (("page", page), ("per_page", per_page), ("limit", limit)):
        if value is not None and value < 1:
            raise ValidationError(f"Invalid query parameter {name}", field=name, reason="Must be at least 1")
    if per_page is not None and per_page > MAX_PAGE_SIZE:
        raise ValidationError("Invalid query parameter per_page", field="per_page",
                              reason=f"At most {MAX_PAGE_SIZE}")
    if limit is not None and limit > MAX_PAGE_SIZE:
        raise ValidationError("Invalid query parameter limit", field="limit", reason=f"At most {MAX_PAGE_SIZE}")
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
    links: dict[str, str | None] = {"self": _link(request, page.offset, page.limit), "next": None,
                                    "prev": None}
    if page.has_next:
        links["next"] = _link(request, page.offset + page.limit, page.limit)
    if page.has_previous:
        links["prev"] = _link(request, max(page.offset - page.limit, 0), page.limit)
    body = {
        "data": [shape(item) for item in (page.items if items is None else items)],
        "meta": {"total": page.total, "limit": page.limit, "offset": page.offset,
                 "page": page.offset // page.limit + 1, "per_page": page.limit},
        "links": links,
    }
    headers = {"X-Total-Count": str(page.total)}
    rels = [f'<{url}>; rel="{rel}"' for rel, url in links.items() if url and rel != "self"]
    if rels:
        headers["Link"] = ", ".join(rels)
    return json_response(body, headers=headers)


def etag(object_id: str, revision: int) -> str:
    """The strong ETag of one revision of an object: `"<id>.<revision>"`."""
    return f'"{object_id}.{revision}"'


def if_match(request: web.Request, object_id: str) -> int | None:
    """The revision an `If-Match` header names; None without one (or with `*`), -1 when it cannot match."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    owner, _, revision = header.strip().removeprefix("W/").strip('"').rpartition(".")
    # An ETag of another object, or a malformed one, is stale by definition.
    return int(revision) if owner == object_id and revision.isdigit() else -1
