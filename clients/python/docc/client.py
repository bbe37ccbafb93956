"""`Client` and `AsyncClient`: the same resources over httpx's sync and async clients."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, TypeVar

import httpx

from docc import __version__
from docc._core import RetryPolicy
from docc._runner import AsyncRunner, SyncRunner
from docc.auth import ApiKey, ClientCredentials
from docc.config import Settings, resolve
from docc.resources import Datasets, Events, Jobs, Keys, OAuthClients, Pipelines, Quality, Workspaces

R = TypeVar("R", SyncRunner, AsyncRunner)


def _auth(settings: Settings) -> httpx.Auth | None:
    if settings.client_id and settings.client_secret:
        return ClientCredentials(settings.client_id, settings.client_secret, scope=settings.scope)
    if settings.api_key:
        return ApiKey(settings.api_key)
    return None


class _Base(Generic[R]):
    datasets: Datasets[R]
    pipelines: Pipelines[R]
    jobs: Jobs[R]
    workspaces: Workspaces[R]
    keys: Keys[R]
    oauth_clients: OAuthClients[R]
    quality: Quality[R]
    events: Events[R]

    def _settings(self, url: str | None, api_key: str | None, client_id: str | None, client_secret: str | None,
                  scope: str | None, profile: str | None, env: Mapping[str, str] | None) -> Settings:
        self.settings = resolve(url, api_key, client_id=client_id, client_secret=client_secret, scope=scope,
                                profile=profile, env=env)
        self.auth = _auth(self.settings)
        return self.settings

    def _attach(self, runner: R) -> None:
        self.jobs = Jobs(runner)
        self.datasets = Datasets(runner)
        self.pipelines = Pipelines(runner, self.jobs)
        self.workspaces = Workspaces(runner)
        self.keys = Keys(runner)
        self.oauth_clients = OAuthClients(runner)
        self.quality = Quality(runner)
        self.events = Events(runner)

    @staticmethod
    def _http_options(settings: Settings, auth: httpx.Auth | None, timeout: float) -> dict[str, Any]:
        return {"base_url": settings.url, "auth": auth, "headers": {"User-Agent": f"docc-python-sdk/{__version__}"},
                # A followed log stays quiet up to 15 s between keepalives: reads may wait longer than calls.
                "timeout": httpx.Timeout(timeout, read=max(timeout, 60.0))}


class Client(_Base[SyncRunner]):
    """The DOCC API from synchronous code.

    `Client()` reads DOCC_URL and DOCC_API_KEY (or DOCC_CLIENT_ID/DOCC_CLIENT_SECRET for OAuth client
    credentials), else the profile `docc login` stored; arguments win over both.
    """

    def __init__(self, url: str | None = None, api_key: str | None = None, *, client_id: str | None = None,
                 client_secret: str | None = None, scope: str | None = None, profile: str | None = None,
                 timeout: float = 30.0, retry: RetryPolicy | None = None, env: Mapping[str, str] | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        settings = self._settings(url, api_key, client_id, client_secret, scope, profile, env)
        self.http = httpx.Client(transport=transport, **self._http_options(settings, self.auth, timeout))
        self._attach(SyncRunner(self.http, retry or RetryPolicy()))

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClient(_Base[AsyncRunner]):
    """The DOCC API from asyncio code: the same resources and methods as `Client`, awaited (`async for` for
    lists and logs)."""

    def __init__(self, url: str | None = None, api_key: str | None = None, *, client_id: str | None = None,
                 client_secret: str | None = None, scope: str | None = None, profile: str | None = None,
                 timeout: float = 30.0, retry: RetryPolicy | None = None, env: Mapping[str, str] | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        settings = self._settings(url, api_key, client_id, client_secret, scope, profile, env)
        self.http = httpx.AsyncClient(transport=transport, **self._http_options(settings, self.auth, timeout))
        self._attach(AsyncRunner(self.http, retry or RetryPolicy()))

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
