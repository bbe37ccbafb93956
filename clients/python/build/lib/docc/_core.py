"""The SDK without I/O: requests as values, and every behaviour (retries, paging, waiting, following a log)
written once as a generator ("flow") that yields commands. A sync and an async runner carry the commands
out, so the two clients cannot behave differently."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

import httpx

from docc.errors import ConnectionFailed, RateLimited, error_from_envelope, retry_after_seconds

T = TypeVar("T")
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
# Errors raised before the request left the machine: retrying them can never repeat an effect.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class Answer:
    """A whole response: status, headers and the decoded JSON body (None when empty)."""

    status: int
    headers: Mapping[str, str]
    body: Any


@dataclass(frozen=True)
class Call(Generic[T]):
    """One HTTP request and how to read its answer."""

    method: str
    path: str
    parse: Callable[[Answer], T]
    params: Mapping[str, Any] | None = None
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    # None: by method. A POST carrying an Idempotency-Key is idempotent too.
    idempotent: bool | None = None

    @property
    def safe_to_repeat(self) -> bool:
        if self.idempotent is not None:
            return self.idempotent
        return self.method in IDEMPOTENT_METHODS

    def with_params(self, **params: Any) -> Call[T]:
        return replace(self, params={**(self.params or {}), **params})


def query(**params: Any) -> dict[str, str]:
    """Query parameters as the server reads them: lists comma-separated, booleans `true`/`false`, None left out."""
    out: dict[str, str] = {}
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif isinstance(value, list | tuple | set | frozenset):
            out[name] = ",".join(str(item) for item in value)
        elif hasattr(value, "isoformat"):
            out[name] = value.isoformat()
        else:
            out[name] = str(value)
    return out


# Commands a flow yields; the runner answers each (or throws the transport's error into the flow).
@dataclass(frozen=True)
class Send:
    call: Call[Any]


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Open:
    """Open a streamed response; answers a handle for ReadLine/Close (an error status is raised)."""

    call: Call[Any]


@dataclass(frozen=True)
class ReadLine:
    handle: Any


@dataclass(frozen=True)
class Close:
    handle: Any


@dataclass(frozen=True)
class Emit:
    """An item of an iterating flow, handed to the caller's loop."""

    item: Any


Flow = Generator[Any, Any, T]


@dataclass(frozen=True)
class RetryPolicy:
    """429: wait `Retry-After` and retry up to `rate_limit_retries` times, never waiting longer than
    `max_rate_limit_wait` at once. Connection errors: retry idempotent requests (and any request that
    never left) up to `connection_retries` times, backing off exponentially from `backoff` seconds."""

    rate_limit_retries: int = 5
    max_rate_limit_wait: float = 60.0
    connection_retries: int = 3
    backoff: float = 0.25

    def delay(self, attempt: int) -> float:
        base = min(self.backoff * 2 ** (attempt - 1), 10.0)
        return base * (0.5 + random.random() / 2)  # jitter, so many clients do not come back at once


def request(call: Call[T], policy: RetryPolicy) -> Flow[T]:
    """Send one call, waiting out 429s and retrying lost connections; raises the envelope's error."""
    limited = lost = 0
    while True:
        try:
            answer: Answer = yield Send(call)
        except RateLimited as exc:  # the token endpoint (OAuth) refused for the rate limit
            answer = Answer(429, {"Retry-After": str(exc.retry_after or 1)}, None)
            if limited >= policy.rate_limit_retries:
                raise
        except httpx.TransportError as exc:
            if lost >= policy.connection_retries or not (call.safe_to_repeat or isinstance(exc, NOT_SENT)):
                raise ConnectionFailed(f"{call.method} {call.path}: {exc.__class__.__name__}: {exc}") from exc
            lost += 1
            yield Sleep(policy.delay(lost))
            continue
        if answer.status == 429:
            wait = retry_after_seconds(answer.headers)
            wait = policy.delay(limited + 1) if wait is None else wait
            if limited >= policy.rate_limit_retries or wait > policy.max_rate_limit_wait:
                raise error_from_envelope(answer.status, answer.body, answer.headers)
            limited += 1
            yield Sleep(wait)
            continue
        if answer.status >= 400:
            raise error_from_envelope(answer.status, answer.body, answer.headers)
        return call.parse(answer)


def paginate(call: Call[list[T]], policy: RetryPolicy, per_page: int = 100) -> Flow[None]:
    """Every item of a list, page after page as the caller consumes them, following `links.next`."""
    current: Call[Any] = call.with_params(per_page=per_page)
    while True:
        raw = yield from request(replace(current, parse=lambda answer: answer), policy)
        for item in current.parse(raw):
            yield Emit(item)
        following = (raw.body.get("links") or {}).get("next")
        if not following:
            return None
        # The server's link is complete (path and query): follow it as given.
        current = replace(current, path=following, params=None)


def decode_line(line: str | bytes) -> dict[str, Any] | None:
    text = line.decode() if isinstance(line, bytes) else line
    return json.loads(text) if text.strip() else None
