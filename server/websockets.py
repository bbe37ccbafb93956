"""What the GraphQL websocket protocols get beyond Strawberry's defaults.

- The legacy `graphql-ws` protocol closes a refused credential with 4403, as `graphql-transport-ws` does
  (Strawberry's handler closes with 1011, an internal error).
- Each credential holds at most `DOCC_WS_MAX_SOCKETS_PER_CREDENTIAL` open sockets; one more is closed with
  4429 (too many requests) after its `connection_init`.
- Keep-alive: websocket ping frames every `DOCC_WS_HEARTBEAT_SECONDS` on both protocols (a peer that does
  not answer is closed), and the legacy protocol's own `ka` messages at the same pace.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from aiohttp import web
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler

CLOSE_FORBIDDEN = 4403
CLOSE_TOO_MANY = 4429
SOCKETS_BY_CREDENTIAL = web.AppKey("docc_ws_sockets_by_credential", Counter)
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
