"""No source or sink reaches the server's own PostgreSQL database, however its URL is spelled."""

from __future__ import annotations

import asyncio
import socket
from urllib.parse import urlsplit

import adbc_driver_postgresql.dbapi as pg_dbapi
import pytest

from server.engine.dataplane import MappingResolver, Policy, StepFailed, execute_steps
from server.engine.dataplane.identity import read_identity
from server.engine.service import POLICY
from server.models.datasets import Dataset

from .conftest import SCHEMA, write_customers

OWN = "The server's own database cannot be used"


def own_database(settings) -> tuple[str, str]:
    """The server's database name and a plain libpq URL of it (without Tortoise's ?schema=)."""
    parts = urlsplit(settings.database_url)
    return parts.path[1:], parts._replace(scheme="postgresql", query="").geturl()


def spellings(name: str) -> list[str]:
    host = socket.gethostname()
    return [
        f"postgresql://postgres@127.0.0.1:5432/{name}", f"postgres://postgres@localhost/{name}",
        f"postgresql://postgres:anything@LOCALHOST:5432/{name}?sslmode=disable&application_name=etl",
        f"postgresql://postgres@[::1]:5432/{name}", f"postgresql://postgres@127.0.0.2/{name}",
        f"postgresql://other_user@{host}:5432/{name}?connect_timeout=3",
        f"postgresql://postgres@{socket.gethostbyname(host)}/{name}",
    ]


async def test_the_servers_own_postgres_database_is_refused_at_save_by_every_spelling(client, settings):
    if not settings.database_url.startswith("postgres"):
        pytest.skip("the server's database is SQLite here")
    name, _ = own_database(settings)
    for i, connection in enumerate(spellings(name)):
        # when
        resp = await client.post("/api/v1/datasets", json={"name": f"own{i}", "source": {
            "type": "database", "connection": connection, "table": "signing_keys"}})
        # then
        assert resp.status == 400, connection
        assert (await resp.json())["error"]["details"] == {"field": "source.connection", "reason": OWN}
    # while another database of the same server is fine
    other = await client.post("/api/v1/datasets", json={"name": "other", "source": {
        "type": "database", "connection": "postgresql://postgres@127.0.0.1:5432/test", "table": "t"}})
    assert other.status == 201


async def test_the_server_learns_its_identity_as_a_job_connection_reports_it(client, settings):
    if not settings.database_url.startswith("postgres"):
        pytest.skip("the server's database is SQLite here")
    _, url = own_database(settings)
    with pg_dbapi.connect(url) as db:
        reported = read_identity(db)
    assert client.app[POLICY].own_identity == reported


async def test_a_job_on_the_servers_own_postgres_fails_before_reading(client, settings, tmp_path):
    """Finding 1 on PostgreSQL: a dataset pointed at the server's database behind the API's back, plus a cast."""
    if not settings.database_url.startswith("postgres"):
        pytest.skip("the server's database is SQLite here")
    _, url = own_database(settings)
    (tmp_path / "in.csv").write_text("id\n1\n")
    created = await client.post("/api/v1/datasets", json={"name": "d", "source": {
        "type": "file", "path": str(tmp_path / "in.csv")}})
    dataset = await created.json()
    await Dataset.filter(id=dataset["id"]).update(source={"type": "database", "connection": url,
                                                          "table": "api_keys"})
    steps = [{"id": "read", "type": "data_source", "config": {"dataset_id": dataset["id"]}},
             {"id": "cast", "type": "data_cleaner", "config": {"cast": {"key_hash": "integer"}}},
             {"id": "write", "type": "data_sink", "config": {"path": str(tmp_path / "out.csv")}}]
    pipeline = await (await client.post("/api/v1/pipelines", json={"name": "leak", "steps": steps})).json()
    # when
    job = await (await client.post(f"/api/v1/pipelines/{pipeline['id']}/run")).json()
    for _ in range(400):
        done = await (await client.get(f"/api/v1/jobs/{job['id']}")).json()
        if done["status"] in {"succeeded", "failed", "cancelled"}:
            break
        await asyncio.sleep(0.05)
    # then
    assert done["status"] == "failed" and "server's own database" in done["error"]
    assert not (tmp_path / "out.csv").exists()


def test_a_connection_that_reaches_the_own_database_is_refused_by_what_the_server_reports(pg_url, recorder,
                                                                                          tmp_path):
    # given a policy that knows the database only by its identity (a spelling no URL check recognises)
    with pg_dbapi.connect(pg_url) as db:
        identity = read_identity(db)
    policy = Policy(file_roots=(str(tmp_path),), own_identity=identity)
    source = write_customers(str(tmp_path / "in.csv"), "csv")
    steps = [{"id": "read", "type": "data_source", "config": {"dataset_id": "in"}},
             {"id": "write", "type": "data_sink", "config": {"destination": "warehouse.stolen"}}]
    # when a job writes there through an operator's named connection
    with pytest.raises(StepFailed) as info:
        execute_steps(steps, MappingResolver({"in": (source, SCHEMA)}, {"warehouse": pg_url}), recorder.ctx, policy)
    # then nothing was written
    assert "server's own database" in info.value.message
    with pg_dbapi.connect(pg_url) as db, db.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_tables WHERE tablename = 'stolen'")
        assert cur.fetchone()[0] == 0


def test_another_database_of_the_same_server_is_allowed(pg_url, recorder, tmp_path):
    # given the identity of the server's maintenance database, not of the one the job writes to
    base = urlsplit(pg_url)._replace(path="/postgres").geturl()
    with pg_dbapi.connect(base) as db:
        policy = Policy(file_roots=(str(tmp_path),), own_identity=read_identity(db))
    source = write_customers(str(tmp_path / "in.csv"), "csv")
    steps = [{"id": "read", "type": "data_source", "config": {"dataset_id": "in"}},
             {"id": "write", "type": "data_sink", "config": {"destination": "warehouse.allowed"}}]
    # when / then
    result = execute_steps(steps, MappingResolver({"in": (source, SCHEMA)}, {"warehouse": pg_url}), recorder.ctx,
                          policy)
    assert result.steps["write"].rows_in == 5
