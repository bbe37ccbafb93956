"""The route table of the HTTP routes (REST and OAuth): one row per route, with the scope it needs, the budget
it draws on, and what OpenAPI says of it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from aiohttp import web

from resolvers.scopes import BULK_OPERATIONS
from server.edge.context import principal_of
from server.edge.ratelimit import BULK, RATE_LIMITS, STANDARD, address_key, credential_key

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
FULL_RESPONSE = web.RequestKey("docc_full_response", bool)


@dataclass(frozen=True)
class Route:
    """One REST route: method, path under /api/v1, required scope and documentation.

    `scope` is checked before the handler runs, so nothing is written without it. `read_scope` is what
    the full response needs (the object after a write); a caller without it gets the handler's minimal
    acknowledgement instead, never a 403 after the effect.
    """

    method: str
    path: str
    handler: Handler
    scope: str | None
    summary: str
    tag: str
    status: int = 200
    body: dict[str, Any] | None = None
    query: tuple[str, ...] = ()
    read_scope: str | None = None
    # The use case the route runs (its handler's name unless given): BULK_OPERATIONS says which are bulk.
    operation: str | None = None
    # A list answered by page_response: page/per_page and limit/offset apply.
    paged: bool = False
    # Public routes skip authentication (the OAuth token endpoints); every other route needs `scope`.
    public: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def bulk(self) -> bool:
        """True when the route starts data-plane work: it draws on the bulk budget."""
        return (self.operation or self.handler.__name__) in BULK_OPERATIONS


def full_response(request: web.Request) -> bool:
    """Whether the caller may see the object a write produced (the route's read_scope), or only an ack."""
    return request.get(FULL_RESPONSE, True)


def _guarded(route: Route) -> Handler:
    @wraps(route.handler)
    async def handler(request: web.Request) -> web.StreamResponse:
        if route.public:
            return await route.handler(request)
        principal = await principal_of(request)
        await request.app[RATE_LIMITS].charge(request, BULK if route.bulk else STANDARD, credential_key(request))
        if route.scope is not None:
            principal.require(route.scope)
        request[FULL_RESPONSE] = route.read_scope is None or principal.has_scope(route.read_scope)
        return await route.handler(request)

    return handler


class _HeadersReady(Exception):
    """Raised as a streaming answer to HEAD is about to send its headers: the stream itself is not run."""

    def __init__(self, response: web.StreamResponse) -> None:
        super().__init__("headers ready")
        self.response = response


_HEAD_PENDING = web.RequestKey("docc_head_pending", bool)
# Set by aiohttp as it prepares, not part of what the GET answered.
_HOP_HEADERS = {"connection", "content-length", "date", "keep-alive", "transfer-encoding"}


async def _stop_head_stream(request: web.Request, response: web.StreamResponse) -> None:
    if request.get(_HEAD_PENDING):
        raise _HeadersReady(response)


def _answering_head(handler: Handler) -> Handler:
    """The GET handler answering HEAD: same status and headers, no body (aiohttp sends none for HEAD).

    A streaming GET (log follow, event feed) is stopped when it prepares its headers, which are then
    answered as they stand, instead of holding the connection open for a stream HEAD cannot carry.
    """

    @wraps(handler)
    async def head(request: web.Request) -> web.StreamResponse:
        if request.method != "HEAD":
            return await handler(request)
        request[_HEAD_PENDING] = True
        try:
            return await handler(request)
        except _HeadersReady as ready:
            headers = {k: v for k, v in ready.response.headers.items() if k.lower() not in _HOP_HEADERS}
            return web.Response(status=ready.response.status, headers=headers)
        finally:
            request[_HEAD_PENDING] = False

    return head


def add_routes(app: web.Application, prefix: str, routes: list[Route]) -> None:
    """Register every route, each behind its scope check; every GET answers HEAD too."""
    if _stop_head_stream not in app.on_response_prepare:
        app.on_response_prepare.append(_stop_head_stream)
    for route in routes:
        if route.method == "GET":
            app.router.add_get(prefix + route.path, _answering_head(_guarded(route)), allow_head=True)
        else:
            app.router.add_route(route.method, prefix + route.path, _guarded(route))


def public(handler: Handler) -> Handler:
    """A route open to everyone, counted against the caller's address so it carries rate-limit headers."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        await request.app[RATE_LIMITS].charge(request, STANDARD, address_key(request))
        return await handler(request)

    wrapped.__name__ = getattr(handler, "__name__", "public")
    return wrapped
