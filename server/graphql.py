"""The Strawberry view at /graphql: HTTP queries, GraphiQL, and subscriptions over websocket.

HTTP requests are authenticated and charged their computed cost before the schema runs.
Websockets authenticate in `connection_init` (payload `{"authorization": "Bearer ..."}` or
`{"private-token": ...}`) or with the upgrade request's headers, and are closed (4401) as
soon as a periodic re-check finds their credential expired or revoked.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from aiohttp import web
from cross_web import HTTPException
from strawberry.aiohttp.views import GraphQLView
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.http import GraphQLHTTPResponse
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from resolvers.errors import DoccError, Unauthorized
from resolvers.principal import Principal
from resolvers.read_generation import read_generation
from schema import build_schema
from schema.context import Context, Loaders
from server.auth.authenticate import credential_of, identify
from server.auth.graphql_cost import bulk_count, request_cost
from server.config import Settings
from server.edge.bodies import MAX_JSON_DEPTH, InvalidJson, UnsupportedMediaType, json_depth, loads_bounded, read_body
from server.edge.context import REQUEST_CONTEXT, principal_of
from server.edge.ratelimit import BULK, RATE_LIMITS, STANDARD, address_key, credential_key
from server.edge.responses import HTTP_CODES, error_response
from server.engine.service import POLICY
from server.graphql_cache import CachedAnswer, GraphQLCache
from server.graphql_media import GRAPHQL_RESPONSE, JSON, OFFERED, negotiate, request_error_status
from server.websockets import (
    LegacyProtocolHandler,
    SocketAdapter,
    TrackedWebSocket,
    TransportProtocolHandler,
    close_when_idle,
    hold_operation,
    hold_socket,
    release_socket,
)


class BadGraphQLRequest(DoccError):
    code = "BAD_REQUEST"


class NotAcceptable(DoccError):
    code = "NOT_ACCEPTABLE"


OPEN_SOCKETS = web.AppKey("open_sockets", weakref.WeakSet)
WATCHER = web.RequestKey("docc_ws_watcher", asyncio.Task)
IDLE_WATCHER = web.RequestKey("docc_ws_idle_watcher", asyncio.Task)
# The media type negotiated for an HTTP request, its response under construction, and whether it is a batch.
MEDIA = web.RequestKey("docc_graphql_media", str)
SUB_RESPONSE = web.RequestKey("docc_graphql_response", web.Response)
BATCH = web.RequestKey("docc_graphql_batch", bool)
RESPONSE_MEDIA = web.ResponseKey("docc_graphql_media", str)
# Set when the operation ran without any error: only then may its answer be kept.
CLEAN = web.RequestKey("docc_graphql_clean", bool)
NOBODY = Principal(subject="anonymous", workspace_id="", scopes=frozenset())
CLOSE_CREDENTIAL = 4401


class DoccGraphQLView(GraphQLView):
    """Authenticates and charges each request, builds the shared Context, answers HTTP failures with the envelope."""

    graphql_ws_handler_class = LegacyProtocolHandler
    graphql_transport_ws_handler_class = TransportProtocolHandler
    websocket_adapter_class = SocketAdapter  # type: ignore[assignment]

    def __init__(self, settings: Settings) -> None:
        super().__init__(
            schema=build_schema(settings.graphql_max_depth, settings.graphql_max_aliases,
                                settings.graphql_max_tokens, settings.graphql_introspection,
                                suggestions=settings.graphql_suggestions, max_batch=settings.graphql_max_batch),
            graphql_ide="graphiql",
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
            connection_init_wait_timeout=timedelta(seconds=10),
            max_subscriptions_per_connection=settings.auth.ws_max_subscriptions_per_socket,
            keep_alive=True,
            keep_alive_interval=settings.auth.ws_heartbeat_seconds,
        )
        self.settings = settings
        # Answers to reads of unchanged data, per app (each app builds its own view): see server/graphql_cache.py.
        self.cache = GraphQLCache(self.schema._schema, settings.graphql_max_tokens)
        self.schema.operation_gate = self._charge_socket_operation  # type: ignore[attr-defined]

    async def get_context(self, request: web.Request, response: Any) -> Context:  # type: ignore[override]
        # __call__ authenticated every operation request already. The GraphiQL page needs no one, and a
        # websocket gets its context before connection_init: nobody until on_ws_connect says otherwise.
        principal = request[REQUEST_CONTEXT].principal or NOBODY
        return Context(principal=principal, request_id=request[REQUEST_CONTEXT].request_id,
                       request=request, response=response, policy=request.app.get(POLICY))

    async def on_ws_connect(self, context: Context) -> Any:  # type: ignore[override]
        request: web.Request = context.request
        params = context.connection_params or {}
        try:
            credential = credential_of(params) or credential_of(request.headers)
            if credential is None:
                raise Unauthorized("Authentication required", {"reason": "missing"})
            identity = await identify(request.app, credential, request.remote)
            await request.app[RATE_LIMITS].charge(request, STANDARD, identity.rate_key)
        except DoccError as exc:
            raise ConnectionRejectionError({"code": exc.code, "message": exc.message}) from None
        if not await hold_socket(request, context.response, identity.rate_key,
                                 self.settings.auth.ws_max_sockets_per_credential):
            raise ConnectionRejectionError({"code": "RATE_LIMITED",
                                            "message": "Too many open sockets for this credential"})
        context.principal = identity.principal
        context.rate_key = identity.rate_key
        context.loaders = Loaders(identity.principal)
        request[WATCHER] = asyncio.create_task(self._watch(request, context.response, credential,
                                                           identity.expires_at))
        return None

    async def _charge(self, request: web.Request, key: str, body: Any) -> None:
        """Count a GraphQL body toward the key's budgets: its cost, and its job-starting mutations."""
        limits = request.app[RATE_LIMITS]
        cost = request_cost(self.schema._schema, body, self.settings.graphql_max_tokens,
                            self.settings.graphql_max_cost, self.settings.graphql_cost_unit)
        await limits.charge(request, STANDARD, key, cost)
        # Every job-starting field is charged before anything runs, all or nothing: a request that
        # asks for more than the budget allows starts no job at all.
        jobs = bulk_count(self.schema._schema, body, self.settings.graphql_max_tokens)
        if jobs:
            await limits.charge(request, BULK, key, jobs, whole=True)

    async def _charge_socket_operation(self, context: Any, query: Any, variables: Any,
                                       operation_name: Any = None) -> Callable[[], None] | None:
        """Each operation on a websocket counts like an HTTP request of the socket's credential, and holds one
        of its places until it ends (the returned release)."""
        ws = getattr(context, "response", None)
        if not isinstance(ws, TrackedWebSocket) or not context.rate_key:
            return None
        # Variables are held to the bounds of an HTTP body: nesting, and no NUL in any string.
        if json_depth(variables) > MAX_JSON_DEPTH:
            raise InvalidJson("The variables nest too deeply", {"max_depth": MAX_JSON_DEPTH})
        release = hold_operation(context.request.app, ws, context.rate_key,
                                 self.settings.auth.ws_max_subscriptions_per_credential)
        try:
            await self._charge(context.request, context.rate_key, {"query": query, "variables": variables,
                                                                   "operationName": operation_name})
        except BaseException:
            release()
            raise
        return release

    async def _watch(self, request: web.Request, ws: web.WebSocketResponse, credential: str,
                     expires_at: datetime | None) -> None:
        """Re-check the socket's credential periodically (and at its expiry); close the socket when it fails."""
        every = self.settings.auth.ws_auth_check_seconds
        while not ws.closed:
            wait = every
            if expires_at is not None:
                wait = min(wait, max(0.0, (expires_at - datetime.now(UTC)).total_seconds()) + 0.01)
            await asyncio.sleep(wait)
            try:
                identity = await identify(request.app, credential, request.remote)
            except Unauthorized:
                await ws.close(code=CLOSE_CREDENTIAL, message=b"Credential expired or revoked")
                return
            expires_at = identity.expires_at

    async def create_websocket_response(self, request: web.Request, subprotocol: str | None
                                        ) -> web.WebSocketResponse:
        # Ping frames on both protocols: a peer that stops answering is closed, not kept forever.
        ws = TrackedWebSocket(protocols=[subprotocol] if subprotocol else [],
                              heartbeat=self.settings.auth.ws_heartbeat_seconds)
        await ws.prepare(request)
        request.app[OPEN_SOCKETS].add(ws)  # so that shutdown closes it
        if self.settings.auth.ws_idle_seconds:
            request[IDLE_WATCHER] = asyncio.create_task(close_when_idle(ws, self.settings.auth.ws_idle_seconds))
        return ws

    def _wants_ide(self, request: web.Request) -> bool:
        return request.method == "GET" and "text/html" in request.headers.get("Accept", "") \
            and "query" not in request.query

    async def _body(self, request: web.Request) -> Any:
        """The request's operations, refused (400, envelope) unless an object or a non-empty list of objects.

        Checked here, before Strawberry sees the body: its own checks assume the shape (a batch
        `[1, 2]` raised AttributeError) and its JSON decoder recurses without bound.
        """
        if request.method == "GET":
            variables = request.query.get("variables")
            parsed = loads_bounded(variables) if variables else None
            if parsed is not None and not isinstance(parsed, dict):
                raise BadGraphQLRequest("`variables` must be a JSON object", {"field": "variables"})
            return {"query": request.query.get("query"), "variables": parsed}
        if request.content_type != "application/json":
            if request.method != "POST":
                return None  # PUT and the like: the view refuses the method itself (405)
            raise UnsupportedMediaType("A GraphQL request is sent as application/json",
                                       {"content_type": request.content_type})
        body = loads_bounded(await read_body(request))
        request[BATCH] = isinstance(body, list)
        operations = body if isinstance(body, list) else [body]
        if not operations or not all(isinstance(operation, dict) for operation in operations):
            raise BadGraphQLRequest("The body must be a GraphQL request object, or a non-empty list of them",
                                    {"field": "body"})
        return body

    async def get_sub_response(self, request: web.Request) -> web.Response:
        response = await super().get_sub_response(request)
        request[SUB_RESPONSE] = response
        response[RESPONSE_MEDIA] = request.get(MEDIA, JSON)
        return response

    async def execute_single(self, request: web.Request, request_adapter: Any, sub_response: web.Response,
                             context: Any, root_value: Any, request_data: Any) -> ExecutionResult:
        # Subscriptions are served over websocket only: over HTTP there is no stream to deliver them on
        # (before, one sent with GET or POST ended as an INTERNAL_ERROR).
        allowed = OperationType.from_http(request_adapter.method) - {OperationType.SUBSCRIPTION}
        try:
            return await self.schema.execute(
                request_data.query, root_value=root_value, variable_values=request_data.variables,
                context_value=context, operation_name=request_data.operation_name,
                allowed_operation_types=allowed, operation_extensions=request_data.extensions)
        except CannotGetOperationTypeError as exc:
            raise HTTPException(400, exc.as_http_error_reason()) from exc
        except InvalidOperationTypeError as exc:
            if exc.operation_type == OperationType.MUTATION:
                # Sent with GET, which only reads: the method is what is wrong.
                raise HTTPException(405, "Mutations are only accepted with POST") from exc
            raise HTTPException(400, "Subscriptions are served over websocket (graphql-transport-ws or "
                                     "graphql-ws) on this path, not over HTTP") from exc
        except MissingQueryError as exc:
            raise HTTPException(400, "No GraphQL query found in the request") from exc

    async def process_result(self, request: web.Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        processed = await super().process_result(request, result)
        request[CLEAN] = not result.errors and result.data is not None
        if request.get(MEDIA) != GRAPHQL_RESPONSE:
            return processed  # application/json: status 200 and `data: null`, as older clients expect
        status = request_error_status(result.data, result.errors)
        if status is not None:
            # The request never ran: in application/graphql-response+json it has no data entry at all,
            # and (unless it is one of a batch, which answers as a whole) a 4xx/5xx status.
            processed.pop("data", None)
            response = request.get(SUB_RESPONSE)
            if response is not None and not request.get(BATCH):
                response.set_status(status)
        return processed

    def create_response(self, response_data: Any, sub_response: web.Response) -> web.Response:
        response = super().create_response(response_data, sub_response)
        # The aiohttp view always says application/json: answer in the type negotiated in __call__.
        response.content_type = sub_response.get(RESPONSE_MEDIA, response.content_type)
        return response

    def decode_json(self, data: str | bytes) -> object:
        # Bodies were bounded in `_body` already; orjson is also what every other route parses with.
        return orjson.loads(data)

    async def _cache_key(self, request: web.Request, principal: Principal, media: str,
                         body: Any) -> tuple[str, ...] | None:
        """The key of this request's answer (the workspace's read generation read now, one statement), or
        None when the answer is not to be kept: a batch, a mutation, a field the generation does not cover."""
        if request.get(BATCH):
            return None
        if request.method == "GET" and isinstance(body, dict):
            body = {**body, "operationName": request.query.get("operationName"),
                    "extensions": request.query.get("extensions")}
        found = self.cache.request_key(principal, media, body)
        if found is None:
            return None
        return (*found, str(await read_generation(principal)))

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        limits = request.app[RATE_LIMITS]
        if request.headers.get("Upgrade", "").lower() == "websocket":
            try:
                return await super().__call__(request)
            finally:
                release_socket(request)
                for key in (WATCHER, IDLE_WATCHER):
                    watcher = request.get(key)
                    if watcher is not None:
                        watcher.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await watcher
        if self._wants_ide(request):
            await limits.charge(request, STANDARD, address_key(request))
        else:
            principal = await principal_of(request)
            key = credential_key(request)
            media = negotiate(request.headers.get("Accept"))
            try:
                if media is None:
                    raise NotAcceptable("The response is available only as " + " or ".join(OFFERED),
                                        {"available": list(OFFERED)})
                request[MEDIA] = media
                body = await self._body(request)
                await self._charge(request, key, body)
            except DoccError:
                # Refused before its cost was counted (406, a body that is not JSON, a document that
                # costs too much): it still counts as one request, and carries the rate-limit headers.
                if not request[REQUEST_CONTEXT].rate_headers:
                    await limits.charge(request, STANDARD, key)
                raise
            cache_key = await self._cache_key(request, principal, media, body)
            if cache_key is not None:
                cached, builds = await self.cache.lookup(cache_key)
                if cached is not None:
                    return web.Response(body=cached.body, headers={"Content-Type": cached.content_type})
                if builds:
                    return await self._build(request, cache_key)
        return await self._answer(request)

    async def _build(self, request: web.Request, key: tuple[str, ...]) -> web.StreamResponse:
        """Answer the request, and keep the answer under `key` when it ran without errors."""
        answer = None
        try:
            response = await self._answer(request)
            if request.get(CLEAN) and response.status == 200 and isinstance(response, web.Response) \
                    and isinstance(response.body, bytes):
                answer = CachedAnswer(response.body, response.headers["Content-Type"])
            return response
        finally:
            self.cache.built(key, answer)

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        """Strawberry's answer, its own refusals in the envelope."""
        response = await super().__call__(request)
        if response.status >= 400 and response.content_type not in OFFERED and not response.prepared:
            # The view's own refusals (plain text): answered in the envelope, like every other HTTP failure.
            reason = response.text if isinstance(response, web.Response) and response.text else "Bad request"
            details: dict[str, Any] = {}
            headers = None
            if response.status == 405:
                # As on REST routes: the methods that would have worked, in the header and the details.
                allowed = ["POST"] if request.method == "GET" else ["GET", "POST"]
                details, headers = {"allowed_methods": allowed}, {"Allow": ", ".join(allowed)}
            return error_response(response.status, HTTP_CODES.get(response.status, "BAD_REQUEST"), reason,
                                  details, request[REQUEST_CONTEXT].request_id, headers)
        return response


async def close_sockets(app: web.Application) -> None:
    """On shutdown, close every open GraphQL websocket."""
    for ws in list(app[OPEN_SOCKETS]):
        await ws.close(code=1001, message=b"Server shutting down")
