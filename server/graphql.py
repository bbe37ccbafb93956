"""The Strawberry view at /graphql: HTTP queries, GraphiQL, and subscriptions over websocket."""

from __future__ import annotations

import weakref
from datetime import timedelta
from typing import Any

from aiohttp import web
from strawberry.aiohttp.views import GraphQLView
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL

from schema import build_schema
from schema.context import Context
from server.config import Settings
from server.context import REQUEST_CONTEXT, principal_of
from server.rest.errors import error_response

OPEN_SOCKETS = web.AppKey("open_sockets", weakref.WeakSet)


class DoccGraphQLView(GraphQLView):
    """Builds the shared Context, keeps track of sockets and answers HTTP failures with the envelope."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(
            schema=build_schema(settings.graphql_max_depth, settings.graphql_max_aliases,
                                settings.graphql_max_tokens, settings.graphql_introspection),
            graphql_ide="graphiql",
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
            connection_init_wait_timeout=timedelta(seconds=10),
            max_subscriptions_per_connection=20,
        )

    async def get_context(self, request: web.Request, response: Any) -> Context:  # type: ignore[override]
        principal = await principal_of(request)
        return Context(principal=principal, request_id=request[REQUEST_CONTEXT].request_id,
                       request=request, response=response)

    async def create_websocket_response(self, request: web.Request, subprotocol: str | None
                                        ) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=[subprotocol] if subprotocol else [], heartbeat=20,
                                   max_msg_size=64 * 1024)
        await ws.prepare(request)
        request.app[OPEN_SOCKETS].add(ws)
        return ws

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        response = await super().__call__(request)
        if response.status >= 400 and response.content_type != "application/json" and not response.prepared:
            reason = response.text if isinstance(response, web.Response) and response.text else "Bad request"
            return error_response(response.status, "BAD_REQUEST", reason, {},
                                  request[REQUEST_CONTEXT].request_id)
        return response


async def close_sockets(app: web.Application) -> None:
    """On shutdown, close every open GraphQL websocket."""
    for ws in list(app[OPEN_SOCKETS]):
        await ws.close(code=1001, message=b"Server shutting down")
