"""Test fixtures: every test gets its own database, on SQLite and (when given) on PostgreSQL.

Set DOCC_TEST_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/test) to run every
database test on PostgreSQL too: the run creates its own database there and each test
its own schema inside it, and drops both afterwards.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from urllib.parse import urlsplit

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from server.app import create_app
from server.config import Settings
from server.db import database

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
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await conn.close()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return replace(Settings(), database_url=database_url)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[str]:
    """A migrated database for tests that call resolvers directly."""
    async with database(database_url):
        yield database_url


@pytest.fixture
async def client(aiohttp_client, settings: Settings) -> TestClient:
    """An HTTP client of a running app on its own database."""
    return await aiohttp_client(create_app(settings))
