"""Jobs over database tables: a SQLite table source, and a PostgreSQL destination when PostgreSQL is given."""

from __future__ import annotations

import secrets
import sqlite3
from dataclasses import replace
from urllib.parse import urlsplit

import asyncpg
import pytest

from resolvers import datasets, jobs
from server.config import Settings
from server.engine.executor import Executor

from .helpers import (
    CLEANED,
    PRINCIPAL,
    SCHEMA,
    TEST_POLICY,
    TEST_ROOTS,
    csv_dataset,
    pipeline,
    sqlite_rows,
    write_csv,
)


async def test_a_sqlite_table_is_cleaned_into_another_table(db, tmp_path):
    # given a source table with a duplicate and a null
    source = tmp_path / "src.db"
    with sqlite3.connect(source) as conn:
        conn.execute("CREATE TABLE people (id INTEGER, name TEXT, age INTEGER)")
        conn.executemany("INSERT INTO people VALUES (?, ?, ?)",
                         [(1, " Ann", 30), (1, " Ann", 30), (2, "Bob", None), (3, "Cy ", 41)])
    spec = datasets.DatasetCreate.model_validate({"name": "people", "schema": SCHEMA, "source": {
        "type": "database", "connection": f"sqlite:///{source}", "table": "people"}})
    row = await datasets.create_dataset(PRINCIPAL, spec, policy=TEST_POLICY)
    job = await jobs.run_pipeline(PRINCIPAL, await pipeline(row.id, {"destination": "warehouse.people_clean"}))
    settings = replace(Settings(), database_url=db, file_roots=TEST_ROOTS,
                       connections={"warehouse": f"sqlite:///{source}"})
    # when
    await Executor(settings).drain()
    # then
    assert (await jobs.get_job(PRINCIPAL, job.id)).status == "succeeded"
    assert sqlite_rows(str(source), "SELECT id, name, age FROM people_clean ORDER BY id") == CLEANED


async def test_a_csv_file_is_cleaned_into_a_postgres_table(db, tmp_path):
    # given a PostgreSQL warehouse (this test runs on the PostgreSQL backend only)
    if not db.startswith("postgres"):
        pytest.skip("runs on the PostgreSQL backend only")
    # on the same server as the control plane, but another database: the server's own is never a sink
    own = urlsplit(db)._replace(scheme="postgresql", query="")
    name = f"docc_wh_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(own.geturl())
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = own._replace(path=f"/{name}").geturl()
    table = f"cleaned_{secrets.token_hex(4)}"
    try:
        dataset_id = await csv_dataset(write_csv(str(tmp_path / "in.csv")))
        job = await jobs.run_pipeline(PRINCIPAL, await pipeline(dataset_id, {"destination": f"warehouse.{table}"}))
        settings = replace(Settings(), database_url=db, file_roots=TEST_ROOTS, connections={"warehouse": url})
        # when
        await Executor(settings).drain()
        # then
        conn = await asyncpg.connect(url)
        try:
            rows = await conn.fetch(f'SELECT id, name, age FROM "{table}" ORDER BY id')
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    assert (await jobs.get_job(PRINCIPAL, job.id)).status == "succeeded"
    assert [tuple(r) for r in rows] == CLEANED


async def test_a_named_connection_to_the_servers_own_postgres_fails_the_job(db, tmp_path):
    if not db.startswith("postgres"):
        pytest.skip("runs on the PostgreSQL backend only")
    # given an operator's named connection that is the control plane's own database, spelled as localhost
    own = urlsplit(db)._replace(scheme="postgresql", query="", netloc="postgres@localhost:5432").geturl()
    dataset_id = await csv_dataset(write_csv(str(tmp_path / "in.csv")))
    job = await jobs.run_pipeline(PRINCIPAL, await pipeline(dataset_id, {"destination": "warehouse.stolen"}))
    settings = replace(Settings(), database_url=db, file_roots=TEST_ROOTS, connections={"warehouse": own})
    # when
    await Executor(settings).drain()
    # then the job failed saying why, and wrote nothing
    done = await jobs.get_job(PRINCIPAL, job.id)
    assert done.status == "failed" and "server's own database" in (done.error or "")
    conn = await asyncpg.connect(own)
    try:
        assert await conn.fetchval("SELECT count(*) FROM pg_tables WHERE tablename = 'stolen'") == 0
    finally:
        await conn.close()
