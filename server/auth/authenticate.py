"""The authenticator: the credential of a request (API key or JWT) as a principal, or 401 per RFC 6750."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from resolvers.errors import Unauthorized
from resolvers.principal import Principal
from server.auth.api_keys import UsageRecorder, authenticate_key
from server.auth.identity import Identity
from server.auth.jwt_tokens import ProviderKeys, TokenService, load_signing_secret
from server.config import Settings
from server.edge.context import REQUEST_CONTEXT, SETTINGS
from server.edge.ratelimit import ANONYMOUS, RATE_LIMITS, address_key

log = logging.getLogger("docc.auth")


@dataclass
class AuthState:
    """What authentication needs at run time, one per app."""

    usage: UsageRecorder = field(default_factory=UsageRecorder)
    tokens: TokenService | None = None


AUTH = web.AppKey("auth", AuthState)


def _values(headers: Mapping[str, Any], name: str) -> list[str]:
    """Every value of a header: all repeats of a multidict's, or both spellings of a plain mapping's."""
    getall = getattr(headers, "getall", None)
    if getall is not None:
        return [str(value) for value in getall(name, [])]
    return [str(headers[key]) for key in dict.fromkeys((name, name.lower(), name.title())) if headers.get(key)]


def credential_of(headers: Mapping[str, Any]) -> str | None:
    """The raw credential of `Authorization: Bearer` or `private-token`; raises Unauthorized on another
    scheme, and when several different credentials are presented (which one a proxy checked is unknown)."""
    authorizations, tokens = _values(headers, "Authorization"), _values(headers, "private-token")
    presented: list[str] = []
    for authorization in authorizations:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized("Use the Bearer scheme or the private-token header", {"reason": "scheme"})
        presented.append(value.strip())
    presented += [token.strip() for token in tokens if token.strip()]
    if len(set(presented)) > 1:
        raise Unauthorized("Send one credential, in one header", {"reason": "ambiguous"})
    return presented[0] if presented else None


async def identify(app: web.Application, credential: str, address: str | None) -> Identity:
    """The identity of a presented credential; raises Unauthorized."""
    state = app[AUTH]
    if credential.startswith("docc_"):
        identity = await authenticate_key(credential, address)
        state.usage.touch(identity.principal.credential_id or "")
        return identity
    if credential.count(".") == 2 and state.tokens is not None:
        return await state.tokens.verify(credential)
    raise Unauthorized("The credential is malformed", {"reason": "malformed"})


async def authenticate(request: web.Request) -> Principal:
    """The principal of a request; raises Unauthorized, or RateLimited after repeated failures."""
    try:
        credential = credential_of(request.headers)
        if credential is None:
            raise Unauthorized("Authentication required: send an API key or a bearer token", {"reason": "missing"})
        identity = await identify(request.app, credential, request.remote)
    except Unauthorized:
        # Failed attempts are counted by address, so guessing keys is slow.
        await request.app[RATE_LIMITS].charge(request, ANONYMOUS, address_key(request))
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
