"""Answers to list requests kept per app, valid exactly while the domain's list version is unchanged.

The version is read from the database on every request (one indexed lookup), so a write made by any
process is seen by the next read on every process; nothing expires by a timer. The same key gives the
list's ETag, so a client sending `If-None-Match` gets 304 without a body.

Single objects whose every field lives in the rows the list version counts (a dataset) are kept the same
way, beside the pages (`serve_object`), with their own ETag (the object's revision).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from server.edge.cache import LruCache

# Enough for the first pages of a few hundred busy workspaces; each entry is one serialised page.
DEFAULT_CAPACITY = 256
_KEPT_HEADERS = ("X-Total-Count", "Link")
# One serialised object is a few KB.
DEFAULT_OBJECT_CAPACITY = 2048


@dataclass(frozen=True, slots=True)
class CachedList:
    body: bytes
    # The page's own headers (X-Total-Count, Link) and its ETag, ready to copy into an answer.
    headers: tuple[tuple[str, str], ...]
    tag: str = ""


class ListCache(LruCache[tuple[str, ...], CachedList]):
    """A bounded least-recently-used map from (resource, workspace, version, query) to a serialised page;
    `objects` is its like for single objects, apart so that reading many objects does not push out pages."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY, objects: int = DEFAULT_OBJECT_CAPACITY) -> None:
        super().__init__(capacity)
        self.objects: LruCache[tuple[str, ...], CachedList] = LruCache(objects)


LIST_CACHE = web.AppKey("docc_list_cache", ListCache)


def list_etag(key: tuple[str, ...]) -> str:
    """A strong ETag naming one slice of one version of a workspace's list."""
    digest = hashlib.blake2b("\x1f".join(key).encode(), digest_size=12).hexdigest()
    return f'"l-{digest}"'


def _matches(header: str | None, tag: str) -> bool:
    if header is None:
        return False
    if header == tag:  # what a client sends back, as a rule
        return True
    candidates = {part.strip().removeprefix("W/") for part in header.split(",")}
    return tag in candidates or "*" in candidates


async def serve_list(request: web.Request, resource: str, workspace_id: str, version: int,
                     build: Callable[[], Awaitable[web.Response]]) -> web.Response:
    """The page for this request from the cache, or built by `build` and kept; 304 when the client has it."""
    key = (resource, workspace_id, str(version), request.path, request.query_string)
    cache = request.app[LIST_CACHE]
    entry = cache.get(key)
    if entry is None:
        # Built before any 304: building is what checks the query (a kept page's query was valid).
        built = await build()
        assert isinstance(built.body, bytes)
        tag = list_etag(key)
        kept = tuple((name, built.headers[name]) for name in _KEPT_HEADERS if name in built.headers)
        entry = CachedList(built.body, (*kept, ("ETag", tag)), tag)
        cache.put(key, entry)
    if _matches(request.headers.get("If-None-Match"), entry.tag):
        return web.Response(status=304, headers={"ETag": entry.tag})
    return web.Response(body=entry.body, content_type="application/json", headers=dict(entry.headers))


async def serve_object(request: web.Request, resource: str, workspace_id: str, version: int,
                       build: Callable[[], Awaitable[web.Response]]) -> web.Response:
    """One object's answer from the cache, or built by `build` (which sets its ETag) and kept while `version`
    holds; 304 when `If-None-Match` names its ETag. Only a 200 is kept: a refusal is raised, never stored."""
    key = (resource, workspace_id, str(version), request.path, request.query_string)
    cache = request.app[LIST_CACHE].objects
    entry = cache.get(key)
    if entry is None:
        built = await build()
        tag = built.headers.get("ETag")
        if built.status != 200 or tag is None or not isinstance(built.body, bytes):
            return built
        entry = CachedList(built.body, (("ETag", tag),), tag)
        cache.put(key, entry)
    if _matches(request.headers.get("If-None-Match"), entry.tag):
        return web.Response(status=304, headers={"ETag": entry.tag})
    return web.Response(body=entry.body, content_type="application/json", headers=dict(entry.headers))
