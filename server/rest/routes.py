"""The REST route table: one row per route, with the scope it needs and what OpenAPI says of it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from aiohttp import web

from server.context import principal_of

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    """One REST route: method, path under /api/v1, required scope and documentation."""

    method: str
    path: str
    handler: Handler
    scope: str | None
    summary: str
    tag: str
    status: int = 200
    body: dict[str, Any] | None = None
    query: tuple[str, ...] = ()
    bulk: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _guarded(route: Route) -> Handler:
    @wraps(route.handler)
    async def handler(request: web.Request) -> web.StreamResponse:
        principal = await principal_of(request)
        if route.scope is not None:
            principal.require(route.scope)
        return await route.handler(request)

    return handler


def add_routes(app: web.Application, prefix: str, routes: list[Route]) -> None:
    """Register every route, each behind its scope check."""
    for route in routes:
        app.router.add_route(route.method, prefix + route.path, _guarded(route))
