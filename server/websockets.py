"""What the GraphQL websocket protocols get beyond Strawberry's defaults.

- The legacy `graphql-ws` protocol closes a refused credential with 4403, as `graphql-transport-ws` does
  (Strawberry's handler closes with 1011, an internal error).
- Each credential holds at most `DOCC_WS_MAX_SOCKETS_PER_CREDENTIAL` open sockets; one more is closed with
  4429 (too many requests) after its `connection_init`.
- Keep-alive: websocket ping frames every `DOCC_WS_HEARTBEAT_SECONDS` on both protocols (a peer that does
  not answer is closed), and the legacy protocol's own `ka` messages at the same pace.
- Each credential has at most `DOCC_WS_MAX_SUBSCRIPTIONS_PER_CREDENTIAL` operations in flight over all its
  sockets (of this process); one more is refused alone, with RATE_LIMITED, and the socket stays open.
- A socket with no operation in flight that sends no message for `DOCC_WS_IDLE_SECONDS` is closed with
  4408: a forgotten tab does not hold a place of its credential for ever.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

from aiohttp import web
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler

from resolvers.errors import RateLimited

CLOSE_FORBIDDEN = 4403
CLOSE_TOO_MANY = 4429
CLOSE_IDLE = 4408
SOCKETS_BY_CREDENTIAL = web.AppKey("docc_ws_sockets_by_credential", Counter)
OPERATIONS_BY_CREDENTIAL = web.AppKey("docc_ws_operations_by_credential", Counter)
_HELD = web.RequestKey("docc_ws_held_credential", str)


class LegacyProtocolHandler(BaseGraphQLWSHandler):
    """graphql-ws as its clients expect: a refused `connection_init` closes the socket with 4403."""

    async def send_message(self, message: Any) -> None:
        await super().send_message(message)
        if message.get("type") == "connection_error" and message.get("payload") is not None:
            await self.websocket.close(code=CLOSE_FORBIDDEN, reason="Forbidden")


async def hold_socket(request: web.Request, ws: web.WebSocketResponse, rate_key: str, limit: int) -> bool:
    """Count an authenticated socket toward its credential; close it with 4429 and return False past `limit`."""
    held = request.app[SOCKETS_BY_CREDENTIAL]
    if held[rate_key] >= limit:
        await ws.close(code=CLOSE_TOO_MANY, message=b"Too many open sockets for this credential")
        return False
    held[rate_key] += 1
    request[_HELD] = rate_key
    return True


def release_socket(request: web.Request) -> None:
    """Forget a closed socket (no-op for one that never held a place)."""
    rate_key = request.get(_HELD)
    if rate_key is None:
        return
    held = request.app[SOCKETS_BY_CREDENTIAL]
    held[rate_key] -= 1
    if held[rate_key] <= 0:
        del held[rate_key]


class TrackedWebSocket(web.WebSocketResponse):
    """A server socket that knows when its peer last sent a message and how many operations it runs."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.last_active = asyncio.get_running_loop().time()
        self.in_flight = 0

    async def receive(self, timeout: float | None = None) -> Any:  # noqa: ASYNC109
        message = await super().receive(timeout)
        self.last_active = asyncio.get_running_loop().time()
        return message


def hold_operation(app: web.Application, ws: TrackedWebSocket, rate_key: str, limit: int) -> Callable[[], None]:
    """Count one operation toward its socket and its credential; returns the release, or raises RateLimited."""
    held = app[OPERATIONS_BY_CREDENTIAL]
    if held[rate_key] >= limit:
        raise RateLimited("Too many subscriptions in flight for this credential", {"limit": limit})
    held[rate_key] += 1
    ws.in_flight += 1
    released = False

    def release() -> None:
        nonlocal released
        if released:
            return
        released = True
        ws.in_flight -= 1
        ws.last_active = asyncio.get_running_loop().time()  # the idle clock starts when the last one ends
        held[rate_key] -= 1
        if held[rate_key] <= 0:
            del held[rate_key]

    return release


async def close_when_idle(ws: TrackedWebSocket, idle_seconds: float) -> None:
    """Close the socket with 4408 once it has run nothing and sent nothing for `idle_seconds`."""
    loop = asyncio.get_running_loop()
    while not ws.closed:
        left = ws.last_active + idle_seconds - loop.time()
        if left > 0 or ws.in_flight:
            await asyncio.sleep(max(left, 0.0) or idle_seconds)
            continue
        await ws.close(code=CLOSE_IDLE, message=b"Idle timeout: no operation and no message")
        return
