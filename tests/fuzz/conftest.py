"""A real server for the fuzzer: the app on a TCP port, run by its own event loop in a thread.

Schemathesis sends plain HTTP with `requests`, so the app runs as in production (one task does
setup, serving and cleanup, as `web.run_app` does) on a fresh database with an admin key.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import asyncpg
import pytest
import requests

from server.config import Settings
from tests.conftest import BACKENDS
from tests.live import live_app


@dataclass
class LiveServer:
    base_url: str
    admin_key: str
    # Ids of real objects by the path prefix that names them, so the fuzzer also reaches past the lookup.
    known_ids: dict[str, str] = field(default_factory=dict)


def _seed(base_url: str, key: str, root: Path) -> dict[str, str]:
    """A dataset, a pipeline over it and a job of it, created through the API."""
    headers = {"Authorization": f"Bearer {key}"}
    (root / "in.csv").write_text("id,name\n1,Ann\n2,Bob\n")
    dataset = requests.post(f"{base_url}/api/v1/datasets", headers=headers, timeout=30, json={
        "name": "seed", "source": {"type": "file", "path": str(root / "in.csv")}}).json()["id"]
    steps = [{"id": "input", "type": "data_source", "config": {"dataset_id": dataset}},
             {"id": "output", "type": "data_sink", "config": {"path": str(root / "out.csv")}}]
    pipeline = requests.post(f"{base_url}/api/v1/pipelines", headers=headers, timeout=30, json={
        "name": "seed", "steps": steps}).json()["id"]
    job = requests.post(f"{base_url}/api/v1/pipelines/{pipeline}/run", headers=headers, timeout=30).json()["id"]
    return {"/api/v1/datasets/": dataset, "/api/v1/pipelines/": pipeline, "/api/v1/jobs/": job,
            "/api/v1/workspaces/": "ws_default"}


async def _postgres_schema(run_url: str, sql: str) -> None:
    conn = await asyncpg.connect(run_url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="module", params=BACKENDS)
def live_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                postgres_run_database: str | None) -> Iterator[LiveServer]:
    """The app serving on 127.0.0.1 with its own database; files confined to a temporary folder."""
    root: Path = tmp_path_factory.mktemp("fuzz")
    schema = None
    if request.param == "sqlite":
        url = f"sqlite://{root}/docc.db"
    else:
        assert postgres_run_database is not None
        schema = f"fz_{secrets.token_hex(6)}"
        asyncio.run(_postgres_schema(postgres_run_database, f'CREATE SCHEMA "{schema}"'))
        url = f"{postgres_run_database.replace('postgresql://', 'postgres://', 1)}?schema={schema}"
    # A generous standard budget so the fuzzer is not throttled; jobs stay few.
    settings = replace(Settings(), database_url=url, file_roots=(str(root),), secret_key_file=str(root / "docc.key"),
                       rate_limit_per_minute=1_000_000, rate_limit_bulk_per_minute=20,
                       rate_limit_auth_per_minute=1_000_000)
    try:
        with live_app(settings, "fuzz") as (port, key):
            base_url = f"http://127.0.0.1:{port}"
            yield LiveServer(base_url=base_url, admin_key=key, known_ids=_seed(base_url, key, root))
    finally:
        if schema is not None:
            asyncio.run(_postgres_schema(postgres_run_database or "", f'DROP SCHEMA "{schema}" CASCADE'))
