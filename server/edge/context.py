"""The per-request context both surfaces share: who asks, and under which request id.

The authenticator is handed in where the app is assembled (AUTHENTICATOR): the edge reads the principal
through it and does not import the authentication package."""

from __future__ import annotations

import itertools
import os
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from resolvers.principal import Principal
from server.config import Settings

_CALLER_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


@dataclass
class RequestContext:
    """Built once per request by the middleware."""

    request_id: str
    principal: Principal | None = None
    # The authenticated credential (server.auth.identity.Identity) and this request's rate-limit headers.
    identity: Any = None
    rate_headers: dict[str, str] = field(default_factory=dict)


Authenticator = Callable[[web.Request], Awaitable[Principal]]

SETTINGS = web.AppKey("settings", Settings)
AUTHENTICATOR = web.AppKey("authenticator", Authenticator)
REQUEST_CONTEXT = web.RequestKey("docc_context", RequestContext)


class _RequestIds:
    """New request ids: `req_` and 24 hex digits, a random half per process and a counter.

    A request id names a request in logs and answers; it must be unique, not secret, so it does not cost a
    call into the kernel's random source every request. A forked child draws its own random half.
    """

    def __init__(self) -> None:
        self.reset()
        os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        self._prefix = f"req_{secrets.token_hex(6)}"
        self._counter = itertools.count(secrets.randbits(40))

    def new(self) -> str:
        return f"{self._prefix}{next(self._counter) & 0xFFFFFFFFFFFF:012x}"


_REQUEST_IDS = _RequestIds()


def request_id_for(request: web.Request) -> str:
    """The caller's X-Request-ID when it is sane, else a new one."""
    given = request.headers.get("X-Request-ID")
    return given if given is not None and _CALLER_ID.match(given) else _REQUEST_IDS.new()


async def principal_of(request: web.Request) -> Principal:
    """The authenticated principal of a request, authenticating on first use."""
    ctx = request[REQUEST_CONTEXT]
    if ctx.principal is None:
        ctx.principal = await request.app[AUTHENTICATOR](request)
    return ctx.principal


def known_list_version(request: web.Request, resource: str) -> int | None:
    """The workspace's version of a list as read together with the request's credential, or None."""
    identity = request[REQUEST_CONTEXT].identity
    return None if identity is None else identity.list_versions.get(resource)
