"""Test fixtures: every test gets its own database, on SQLite and (when given) on PostgreSQL.

Set DOCC_TEST_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/test) to run every
database test on PostgreSQL too: the run creates its own database there and each test
its own schema inside it, and drops both afterwards.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest
from aiohttp.test_utils import TestClient
from tortoise.backends.asyncpg.client import AsyncpgDBClient, TransactionWrapper
from tortoise.backends.sqlite.client import SqliteClient, SqliteTransactionWrapper

from resolvers.keys import KeyCreate, store_key
from server.app import create_app
from server.config import Settings
from server.crypto.stored import secrets_at_rest
from server.db import database
from server.models.core import Workspace
from server.point_reads import PostgresReader, SqliteReader

POSTGRES_URL = os.environ.get("DOCC_TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite", "postgres"] if POSTGRES_URL else ["sqlite"]


def _with_database(url: str, name: str) -> str:
    return urlsplit(url)._replace(path=f"/{name}").geturl()


@pytest.fixture(scope="session")
def postgres_run_database() -> Iterator[str | None]:
    """A database for this whole test run (None without PostgreSQL); dropped at the end."""
    if not POSTGRES_URL:
        yield None
        return
    name = f"docc_test_{secrets.token_hex(6)}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(POSTGRES_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield _with_database(POSTGRES_URL, name)
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path, postgres_run_database: str | None
                       ) -> AsyncIterator[str]:
    """A fresh, empty database URL for one test (not yet migrated)."""
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path}/docc.db"
        return
    run_url = postgres_run_database
    assert run_url is not None
    schema = f"t_{secrets.token_hex(6)}"
    conn = await asyncpg.connect(run_url)
    await conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{run_url.replace('postgresql://', 'postgres://', 1)}?schema={schema}"
    finally:
        # A connection of the test's app that is still closing may hold locks on the schema's tables: when
        # PostgreSQL picks this drop as the victim of that deadlock, the other side finishes and the drop
        # goes through on the next attempt.
        for attempt in range(3):
            try:
                await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
                break
            except asyncpg.DeadlockDetectedError:
                if attempt == 2:
                    raise
        await conn.close()


# Example sources name files under /data (they need not exist to be saved); real files live in tmp_path.
EXAMPLE_ROOT = "/data"


def test_settings(database_url: str, tmp_path: Any, **values: Any) -> Settings:
    """Settings of a test: files confined to its own folder and /data, as DOCC_FILE_ROOTS would on a server,
    and its own key file (on PostgreSQL the default would be ./docc.key, shared by every run)."""
    values.setdefault("secret_key_file", str(tmp_path / "docc.key"))
    # The machine's own PostgreSQL serves as the user database of tests that read or write one.
    values.setdefault("connection_local", True)
    return replace(Settings(), database_url=database_url, file_roots=(str(tmp_path), EXAMPLE_ROOT),
                   data_dir=str(tmp_path / "docc-data"), **values)


test_settings.__test__ = False  # type: ignore[attr-defined]  # A helper, not a test.



@pytest.fixture(autouse=True)
def _logging_as_it_was() -> Iterator[None]:
    """The root logger's handlers and level as before each test: a test that runs `docc-server` in-process
    configures logging onto its captured stderr, which is closed once it ends."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)

@pytest.fixture
def settings(database_url: str, tmp_path) -> Settings:
    return test_settings(database_url, tmp_path)


@pytest.fixture
async def db(database_url: str, tmp_path) -> AsyncIterator[str]:
    """A migrated database, with its secret key loaded, for tests that call resolvers directly."""
    async with database(database_url), secrets_at_rest(test_settings(database_url, tmp_path)):
        yield database_url


OTHER_WORKSPACE = "ws_other"


@dataclass
class Caller:
    """A test client that sends one credential's headers with every request (and websocket)."""

    http: TestClient
    headers: dict[str, str] = field(default_factory=dict)

    def _with(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {**kwargs, "headers": {**self.headers, **(kwargs.get("headers") or {})}}

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.http.request(method, path, **self._with(kwargs))

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.http.get(path, **self._with(kwargs))

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.http.post(path, **self._with(kwargs))

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.http.put(path, **self._with(kwargs))

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.http.delete(path, **self._with(kwargs))

    def ws_connect(self, path: str, **kwargs: Any) -> Any:
        return self.http.ws_connect(path, **self._with(kwargs))

    def __getattr__(self, name: str) -> Any:
        # Everything else (app, server, session, ...) is the underlying TestClient's.
        return getattr(self.http, name)


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
async def credentials(settings: Settings) -> dict[str, str]:
    """API keys stored before the app starts: admin and reader of ws_default, admin of ws_other."""
    async with database(settings.database_url):
        await Workspace.create(id=OTHER_WORKSPACE, name="other")
        made = {
            "admin": await store_key("ws_default", KeyCreate(name="tests-admin", scopes=["admin"]), "tests"),
            "reader": await store_key("ws_default", KeyCreate(name="tests-reader", scopes=["read:datasets"]), "tests"),
            "other": await store_key(OTHER_WORKSPACE, KeyCreate(name="other-admin", scopes=["admin"]), "tests"),
        }
    return {name: created.secret for name, created in made.items()}


@pytest.fixture
async def http(aiohttp_client, settings: Settings, credentials: dict[str, str]) -> TestClient:
    """The raw test client of a running app on its own database: sends no credential by itself."""
    return await aiohttp_client(create_app(settings))


@pytest.fixture
def client(http: TestClient, credentials: dict[str, str]) -> Caller:
    """An authenticated client: an admin API key of the default workspace."""
    return Caller(http, bearer(credentials["admin"]))


@pytest.fixture
def start_app(aiohttp_client, credentials: dict[str, str]):
    """Start another app on the same database with other settings; returns an admin Caller of it."""

    async def start(custom: Settings) -> Caller:
        return Caller(await aiohttp_client(create_app(custom)), bearer(credentials["admin"]))

    return start


@pytest.fixture
def anonymous(http: TestClient) -> Caller:
    """The same app, with no credential."""
    return Caller(http)


@pytest.fixture
def reader(http: TestClient, credentials: dict[str, str]) -> Caller:
    """The same app, as a key of the default workspace holding only read:datasets."""
    return Caller(http, bearer(credentials["reader"]))


@pytest.fixture
def other_client(http: TestClient, credentials: dict[str, str]) -> Caller:
    """The same app, as an admin key of another workspace (ws_other)."""
    return Caller(http, bearer(credentials["other"]))


# The ways Tortoise sends a statement: each is counted by the `statements` fixture.
EXECUTES = ("execute_query", "execute_query_dict", "execute_insert", "execute_many", "execute_script")


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every SQL statement sent through Tortoise or a point reader (server.point_reads) during the test, in order."""
    sent: list[str] = []
    for client in (SqliteClient, SqliteTransactionWrapper, AsyncpgDBClient, TransactionWrapper):
        for name in EXECUTES:
            if name not in vars(client):
                continue
            original = vars(client)[name]

            async def counted(self: Any, query: str, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
                sent.append(query)
                return await _original(self, query, *args, **kwargs)

            monkeypatch.setattr(client, name, counted)
    for reader in (SqliteReader, PostgresReader):
        original_rows = vars(reader)["rows"]

        async def read(self: Any, query: str, params: Any, *args: Any, _original: Any = original_rows,
                       **kwargs: Any) -> Any:
            found = await _original(self, query, params, *args, **kwargs)
            if found is not None:  # None: the reader could not answer, and Tortoise is asked (and counted)
                sent.append(query)
            return found

        monkeypatch.setattr(reader, "rows", read)
    return sent
