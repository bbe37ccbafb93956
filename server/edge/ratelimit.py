"""Rate limits at the edge with aiolimiter: leaky buckets per key, per app, with eviction; the keys.

Headers: `X-RateLimit-Limit` / `RateLimit-Limit` is the budget a minute, `-Remaining` what the
bucket can still take now, and `-Reset` the Unix time at which the bucket will have drained
completely (the full budget is available again if no request comes in meanwhile).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from typing import NamedTuple

from aiohttp import web
from aiolimiter import AsyncLimiter

from resolvers.errors import RateLimited
from server.config import Settings
from server.edge.context import REQUEST_CONTEXT

STANDARD, BULK, AUTH, ANONYMOUS = "standard", "bulk", "auth", "anonymous"


def address_key(request: web.Request) -> str:
    """The key of a caller known only by its address: public routes and failed authentications."""
    return f"addr:{request.remote}"


def credential_key(request: web.Request) -> str:
    """The key of the authenticated caller of a request: its credential (an API key, a client, a JWT subject)."""
    context = request[REQUEST_CONTEXT]
    identity, principal = context.identity, context.principal
    if identity is not None:
        return identity.rate_key
    assert principal is not None, "credential_key needs an authenticated request"
    return principal.credential_id or principal.subject


class Decision(NamedTuple):
    """The state of one bucket after a request was counted (or refused). (A named tuple: one is made on every
    request, and a frozen dataclass costs several times as much to make.)"""

    limit: int
    remaining: int
    reset: int
    retry_after: int | None = None
    # The request alone asks for more than the whole budget: waiting does not help.
    too_large: bool = False

    def headers(self) -> dict[str, str]:
        """The X-RateLimit-* and RateLimit-* headers (plus Retry-After when refused)."""
        limit, remaining, reset = str(self.limit), str(self.remaining), str(self.reset)
        headers = {"X-RateLimit-Limit": limit, "X-RateLimit-Remaining": remaining, "X-RateLimit-Reset": reset,
                   "RateLimit-Limit": limit, "RateLimit-Remaining": remaining, "RateLimit-Reset": reset}
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        return headers


def _level(limiter: AsyncLimiter) -> float:
    # aiolimiter keeps its level private; has_capacity() has just leaked it up to now.
    return float(getattr(limiter, "_level", 0.0))


class Buckets:
    """One AsyncLimiter per key at `per_minute`; the least recently used keys are evicted past `max_keys`."""

    def __init__(self, per_minute: int, max_keys: int = 10_000) -> None:
        self.per_minute = per_minute
        self.max_keys = max_keys
        self._limiters: OrderedDict[str, AsyncLimiter] = OrderedDict()

    def __len__(self) -> int:
        return len(self._limiters)

    def _limiter(self, key: str) -> AsyncLimiter:
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = self._limiters[key] = AsyncLimiter(self.per_minute, 60)
            while len(self._limiters) > self.max_keys:
                self._limiters.popitem(last=False)
        else:
            self._limiters.move_to_end(key)
        return limiter

    async def take(self, key: str, amount: float = 1, whole: bool = False) -> Decision:
        """Count `amount` requests for `key` now, or refuse without waiting.

        An amount beyond the whole budget is counted as the whole budget, unless `whole` is set: then it
        is refused outright, since no wait would ever let it through (nor may part of it go through).
        """
        limiter = self._limiter(key)
        rate = self.per_minute / 60
        if whole and amount > self.per_minute:
            level = _level(limiter)
            return Decision(self.per_minute, max(0, math.floor(self.per_minute - level)),
                            math.ceil(time.time() + level / rate), retry_after=60, too_large=True)
        amount = min(max(amount, 1), self.per_minute)
        if not limiter.has_capacity(amount):
            level = _level(limiter)
            wait = max(1, math.ceil((level + amount - self.per_minute) / rate))
            return Decision(self.per_minute, 0, math.ceil(time.time() + level / rate), wait)
        await limiter.acquire(amount)  # has capacity: returns without waiting
        level = _level(limiter)
        return Decision(self.per_minute, max(0, math.floor(self.per_minute - level)),
                        math.ceil(time.time() + level / rate))


class RateLimits:
    """The buckets of one app: standard, bulk and authentication, plus failed authentications by address."""

    def __init__(self, settings: Settings) -> None:
        self.buckets = {STANDARD: Buckets(settings.rate_limit_per_minute),
                        BULK: Buckets(settings.rate_limit_bulk_per_minute),
                        AUTH: Buckets(settings.rate_limit_auth_per_minute),
                        ANONYMOUS: Buckets(settings.rate_limit_auth_per_minute)}

    async def charge(self, request: web.Request, bucket: str, key: str, amount: float = 1,
                     whole: bool = False) -> Decision:
        """Count a request; its headers go on the response. Raises RateLimited when the bucket is full.

        With `whole`, `amount` is all or nothing: more than the whole budget is refused at once.
        """
        decision = await self.buckets[bucket].take(key, amount, whole)
        request[REQUEST_CONTEXT].rate_headers = decision.headers()
        if decision.too_large:
            raise RateLimited(f"The request asks for {amount:g} on the {bucket} budget of {decision.limit} a "
                              "minute; split it into smaller requests",
                              {"limit": decision.limit, "requested": amount, "bucket": bucket,
                               "retry_after": decision.retry_after}, retry_after=decision.retry_after)
        if decision.retry_after is not None:
            raise RateLimited("Rate limit exceeded; retry after the time given in Retry-After",
                              {"limit": decision.limit, "retry_after": decision.retry_after, "bucket": bucket},
                              retry_after=decision.retry_after)
        return decision


RATE_LIMITS = web.AppKey("rate_limits", RateLimits)
