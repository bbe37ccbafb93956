"""The authenticator: the credential of a request (API key or JWT) as a principal, or 401 per RFC 6750."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from resolvers import keys
from resolvers.errors import Unauthorized
from resolvers.jwt_tokens import ProviderKeys, TokenService, load_signing_secret
from resolvers.principal import Principal
from resolvers.tokens import Identity
from server.auth.ratelimit import ANONYMOUS, STANDARD, RateLimits
from server.config import Settings
from server.context import REQUEST_CONTEXT, SETTINGS

log = logging.getLogger("docc.auth")
REALM = 'Bearer realm="docc"'
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class AuthState:
    """What authentication needs at run time, one per app."""

    limits: RateLimits
    usage: keys.UsageRecorder = field(default_factory=keys.UsageRecorder)
    tokens: TokenService | None = None


AUTH = web.AppKey("auth", AuthState)


def credential_of(headers: Mapping[str, Any]) -> str | None:
    """The raw credential of `Authorization: Bearer` or `private-token`; raises Unauthorized on another scheme."""
    get = headers.get
    authorization = get("Authorization") or get("authorization")
    if authorization:
        scheme, _, value = str(authorization).strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized("Use the Bearer scheme or the private-token header", {"reason": "scheme"})
        return value.strip()
    token = get("private-token") or get("Private-Token")
    return str(token).strip() if token else None


async def identify(app: web.Application, credential: str, address: str | None) -> Identity:
    """The identity of a presented credential; raises Unauthorized."""
    state = app[AUTH]
    if credential.startswith("docc_"):
        identity = await keys.authenticate_key(credential, address)
        state.usage.touch(identity.principal.credential_id or "")
        return identity
    if credential.count(".") == 2 and state.tokens is not None:
        return await state.tokens.verify(credential)
    raise Unauthorized("The credential is malformed", {"reason": "malformed"})


def challenge(exc: Unauthorized) -> dict[str, str]:
    """The WWW-Authenticate header of a refusal (RFC 6750 section 3)."""
    if exc.details.get("reason") == "missing":
        return {"WWW-Authenticate": REALM}
    description = exc.message.replace('"', "'")
    return {"WWW-Authenticate": f'{REALM}, error="invalid_token", error_description="{description}"'}


def insufficient_scope(scope: str) -> dict[str, str]:
    """The WWW-Authenticate header of a 403 for a missing scope."""
    return {"WWW-Authenticate": f'{REALM}, error="insufficient_scope", scope="{scope}"'}


async def authenticate(request: web.Request) -> Principal:
    """The principal of a request; raises Unauthorized (with its challenge) or RateLimited after repeated failures."""
    try:
        credential = credential_of(request.headers)
        if credential is None:
            raise Unauthorized("Authentication required: send an API key or a bearer token", {"reason": "missing"})
        identity = await identify(request.app, credential, request.remote)
    except Unauthorized as exc:
        # Failed attempts are counted by address, so guessing keys is slow.
        await request.app[AUTH].limits.charge(request, ANONYMOUS, f"addr:{request.remote}")
        exc.headers = challenge(exc)  # type: ignore[attr-defined]
        raise
    request[REQUEST_CONTEXT].identity = identity
    return identity.principal


async def _flush_once(state: AuthState) -> None:
    try:
        await state.usage.flush()
    except Exception:
        log.exception("Could not store API key usage")


async def _flush_usage(state: AuthState, every: float) -> None:
    # The last flush runs here, on cancellation: only this task sees the database context.
    try:
        while True:
            await asyncio.sleep(every)
            await _flush_once(state)
    finally:
        await _flush_once(state)


async def auth_lifecycle(app: web.Application) -> AsyncIterator[None]:
    """Load the signing key and provider keys after the database opens; flush key usage until shutdown."""
    settings: Settings = app[SETTINGS]
    state = app[AUTH]
    provider = ProviderKeys(settings.auth) if settings.auth.external_jwt else None
    state.tokens = TokenService(settings.auth, await load_signing_secret(settings.auth.jwt_signing_key), provider)
    flusher = asyncio.create_task(_flush_usage(state, settings.auth.key_usage_flush_seconds))
    try:
        yield
    finally:
        flusher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await flusher


def public(handler: Handler) -> Handler:
    """A route open to everyone, counted against the caller's address so it carries rate-limit headers."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        await request.app[AUTH].limits.charge(request, STANDARD, f"addr:{request.remote}")
        return await handler(request)

    wrapped.__name__ = getattr(handler, "__name__", "public")
    return wrapped
