"""create_app(settings): the one aiohttp factory, for production and tests alike."""

from __future__ import annotations

import weakref
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web
from tortoise import connections

from resolvers.jobs import fire_tick
from resolvers.quality.landing import landed
from resolvers.quality.runs import fire_rule_tick
from server.auth import oauth as oauth_endpoints
from server.auth.authenticate import AUTH, AuthState, auth_lifecycle, authenticate
from server.config import Settings
from server.crypto.stored import secrets_at_rest
from server.db import database
from server.edge.context import AUTHENTICATOR, SETTINGS
from server.edge.middleware import HTTP_PARSER_LIMITS, request_middleware
from server.edge.parse_errors import install as install_parse_errors
from server.edge.ratelimit import RATE_LIMITS, RateLimits
from server.edge.responses import json_response
from server.edge.routes import Route, add_routes, public
from server.engine.bus import EventBus, bind, unbind
from server.engine.job_event_retention import job_event_retention
from server.engine.service import ENGINE, EVENT_BUS, POLICY, engine
from server.graphql import OPEN_SOCKETS, DoccGraphQLView, close_sockets
from server.rest import access as rest_access
from server.rest import datasets as rest_datasets
from server.rest import events as rest_events
from server.rest import jobs as rest_jobs
from server.rest import pipelines as rest_pipelines
from server.rest import quality as rest_quality
from server.rest.list_cache import LIST_CACHE, ListCache
from server.rest.openapi import openapi_document
from server.websockets import OPERATIONS_BY_CREDENTIAL, SOCKETS_BY_CREDENTIAL

API_PREFIX = "/api/v1"
REST_ROUTES: list[Route] = [*rest_datasets.ROUTES, *rest_pipelines.ROUTES, *rest_jobs.ROUTES, *rest_events.ROUTES,
                            *rest_access.ROUTES, *rest_quality.ROUTES]
OAUTH_ROUTES: list[Route] = oauth_endpoints.ROUTES


async def healthz(_request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def readyz(_request: web.Request) -> web.Response:
    try:
        await connections.get("default").execute_query("SELECT 1")
    except Exception:
        return json_response({"status": "unavailable", "database": "down"}, status=503)
    return json_response({"status": "ok", "database": "up"})


@web.middleware
async def bind_event_bus(request: web.Request,
                         handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    """The domain publishes to (and job streams subscribe on) this app's bus while it serves the request;
    tasks the request starts (GraphQL subscriptions on a websocket) inherit the binding."""
    token = bind(request.app[EVENT_BUS])
    try:
        return await handler(request)
    finally:
        unbind(token)


def create_app(settings: Settings) -> web.Application:
    """Build the application; the database opens and migrates when the app starts."""
    install_parse_errors()  # Even requests the HTTP parser refuses answer in the envelope.
    app = web.Application(middlewares=[request_middleware, bind_event_bus], client_max_size=settings.max_body_bytes,
                          handler_args=HTTP_PARSER_LIMITS)
    app[SETTINGS] = settings
    app[AUTHENTICATOR] = authenticate
    app[RATE_LIMITS] = RateLimits(settings)
    app[AUTH] = AuthState()
    app[OPEN_SOCKETS] = weakref.WeakSet()
    app[LIST_CACHE] = ListCache()
    app[SOCKETS_BY_CREDENTIAL] = Counter()
    app[OPERATIONS_BY_CREDENTIAL] = Counter()
    # Each app has its own bus (and engine, and policy): nothing it publishes reaches another app in this process.
    bus = app[EVENT_BUS] = EventBus(settings.subscriber_queue_size)

    async def storage(_app: web.Application) -> AsyncIterator[None]:
        # The engine is handed what a schedule's tick does: it does not import the domain.
        async with database(settings.database_url), secrets_at_rest(settings), \
                engine(settings, on_tick=fire_tick, bus=bus,
                       on_quality_result=landed, on_rule_tick=fire_rule_tick) as parts:
            _app[ENGINE] = parts
            _app[POLICY] = parts.policy
            yield

    app.cleanup_ctx.append(storage)
    app.cleanup_ctx.append(job_event_retention(settings))
    app.cleanup_ctx.append(auth_lifecycle)
    app.on_shutdown.append(close_sockets)
    app[rest_events.OPEN_FEEDS] = set()
    app.on_shutdown.append(rest_events.stop_feeds)

    app.router.add_get("/healthz", public(healthz))
    app.router.add_get("/readyz", public(readyz))
    add_routes(app, API_PREFIX, REST_ROUTES)
    add_routes(app, "", OAUTH_ROUTES)
    document = openapi_document([(API_PREFIX, REST_ROUTES), ("", OAUTH_ROUTES)])

    async def openapi(_request: web.Request) -> web.Response:
        return json_response(document)

    app.router.add_get(f"{API_PREFIX}/openapi.json", public(openapi))
    app.router.add_route("*", "/graphql", DoccGraphQLView(settings))
    return app
