"""Secrets at rest: someone who reads the database (file bytes or raw rows) finds no credential in it,
while the API, the tokens and the jobs keep working with the real values."""

from __future__ import annotations

import secrets
from dataclasses import replace
from urllib.parse import urlsplit

import asyncpg
import orjson
import pytest
from tortoise import connections

from resolvers import datasets, jobs, pipelines
from server.auth.authenticate import AUTH
from server.auth.jwt_tokens import load_signing_secret
from server.config import Settings
from server.crypto.stored import secrets_at_rest
from server.db import database
from server.engine.executor import Executor
from server.engine.runner import build_resolver
from server.models.access import SigningKey
from server.models.datasets import Dataset
from server.models.engine import Job
from tests.conftest import POSTGRES_URL, bearer
from tests.engine.helpers import PRINCIPAL, SCHEMA, TEST_POLICY
from tests.examples import dataset_body

from .secrets_helpers import new_key, raw_store

PASSWORD = "Canary-Pw-7f3a9c"
CONNECTION = f"postgresql://etl:{PASSWORD}@db.example.com:5432/warehouse"


async def _register_client(client) -> tuple[str, str]:
    resp = await client.post("/api/v1/workspaces/ws_default/oauth-clients", json={
        "name": "etl", "scopes": ["read:datasets"], "redirect_uris": ["https://app.example/cb"]})
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    return body["client_id"], body["secrets"][0]["secret"]


async def test_no_secret_can_be_read_from_the_raw_database(client, anonymous, http, database_url):
    # given a dataset with a password in its connection, an OAuth client with a secret, and an issued JWT
    created = await client.post("/api/v1/datasets", json=dataset_body(
        source={"type": "database", "connection": CONNECTION, "table": "customers"}))
    client_id, client_secret = await _register_client(client)
    token = await anonymous.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                                       "client_secret": client_secret})
    access_token = (await token.json())["access_token"]
    signing_secret = http.app[AUTH].tokens.secret
    # when the database is read as stored
    raw = await raw_store(database_url)
    # then none of the secrets is in it, only sealed tokens
    assert created.status == 201 and token.status == 200
    for secret in (PASSWORD, signing_secret, client_secret, CONNECTION):
        assert secret.encode() not in raw, f"{secret[:6]}... found in the raw database"
    assert raw.count(b"fernet:") >= 2
    # and the API still works: the JWT verifies, the response shows the masked source
    assert (await anonymous.get("/api/v1/datasets", headers=bearer(access_token))).status == 200
    assert (await created.json())["source"]["connection"] == "postgresql://etl:***@db.example.com:5432/warehouse"
    listed = await (await client.get("/api/v1/datasets")).text()
    assert PASSWORD not in listed and "etl:***@db.example.com" in listed


async def test_the_engine_is_given_the_real_connection(db):
    # given a dataset whose source holds a password, and a job that reads it
    spec = datasets.DatasetCreate.model_validate({"name": "orders", "schema": SCHEMA, "source": {
        "type": "database", "connection": CONNECTION, "table": "orders"}})
    row = await datasets.create_dataset(PRINCIPAL, spec, policy=TEST_POLICY)
    job = Job(workspace_id=PRINCIPAL.workspace_id,
              steps=[{"id": "in", "type": "data_source", "config": {"dataset_id": row.id}}])
    # when the engine resolves the job's datasets
    resolver = await build_resolver(job, {})
    # then it has the unmasked connection, decrypted from the store
    source, _schema = resolver.dataset(row.id)
    assert source["connection"] == CONNECTION
    raw = (await connections.get("default").execute_query_dict(
        f"SELECT source FROM datasets WHERE id = '{row.id}'"))[0]["source"]
    assert PASSWORD not in str(raw)


@pytest.mark.skipif(not POSTGRES_URL, reason="needs DOCC_TEST_POSTGRES_URL (a source database with a password)")
async def test_a_job_reads_a_source_whose_password_is_encrypted(db, tmp_path):
    # given a table in another PostgreSQL database, named by a connection with a password (trust auth ignores it)
    parts = urlsplit(POSTGRES_URL)
    table = f"secret_src_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(POSTGRES_URL)
    await conn.execute(f'CREATE TABLE "{table}" (id INTEGER NOT NULL, name TEXT NOT NULL, age INTEGER)')
    await conn.execute(f"INSERT INTO \"{table}\" VALUES (1, 'Ann', 30), (2, 'Bob', 41)")
    try:
        url = f"postgresql://{parts.username}:{PASSWORD}@{parts.hostname}:{parts.port}{parts.path}"
        spec = datasets.DatasetCreate.model_validate({"name": "pg_people", "schema": SCHEMA, "source": {
            "type": "database", "connection": url, "table": table}})
        source = await datasets.create_dataset(PRINCIPAL, spec, policy=TEST_POLICY)
        out = tmp_path / "people.csv"
        pipeline = await pipelines.create_pipeline(PRINCIPAL, pipelines.PipelineCreate(name="copy_people", steps=[
            {"id": "in", "type": "data_source", "config": {"dataset_id": source.id}},
            {"id": "out", "type": "data_sink", "config": {"path": str(out)}}]), policy=TEST_POLICY)
        job = await jobs.run_pipeline(PRINCIPAL, pipeline.id)
        # when the job runs
        await Executor(replace(Settings(), database_url=db, file_roots=(str(tmp_path),), connection_local=True)).drain()
    finally:
        await conn.execute(f'DROP TABLE "{table}"')
        await conn.close()
    # then it read the rows through the decrypted connection
    done = await jobs.get_job(PRINCIPAL, job.id)
    assert done.status == "succeeded", done.error
    assert out.read_text().splitlines()[1:] == ["1,Ann,30", "2,Bob,41"]


async def test_plaintext_rows_of_an_older_install_are_encrypted_at_start(database_url):
    # given a database where an older version stored the signing key and a source in the clear
    settings = replace(Settings(), database_url=database_url, secret_keys=(new_key(),))
    legacy_secret = "legacy-signing-" + secrets.token_urlsafe(40)
    legacy_source = {"type": "database", "connection": CONNECTION, "table": "t"}
    async with database(database_url):
        conn = connections.get("default")
        marker = "?" if conn.capabilities.dialect == "sqlite" else "$1"
        await conn.execute_query(f"INSERT INTO signing_keys (id, secret, created_at) "
                                 f"VALUES ('docc-hs1', {marker}, CURRENT_TIMESTAMP)", [legacy_secret])
        await conn.execute_query(
            "INSERT INTO datasets (id, workspace_id, name, description, status, source_type, source, schema_fields, "
            "schema_version, compatibility, tags, revision, created_at, updated_at) VALUES ('ds_legacy', "
            f"'ws_default', 'legacy', '', 'active', 'database', {marker}, '[]', 1, 'BACKWARD', '[]', 1, "
            "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)", [orjson.dumps(legacy_source).decode()])
    assert PASSWORD.encode() in await raw_store(database_url)
    # when the server starts with its key
    async with database(database_url), secrets_at_rest(settings):
        signing = await load_signing_secret("")
        source = (await Dataset.get(id="ds_legacy")).source
    # then the values are the same, and the database no longer holds them in the clear
    assert signing == legacy_secret and source == legacy_source
    raw = await raw_store(database_url)
    assert legacy_secret.encode() not in raw and PASSWORD.encode() not in raw
    assert raw.count(b"fernet:") >= 2


async def test_writing_a_secret_without_a_loaded_key_is_refused(database_url):
    # given a database opened without its secret key (a code path that forgot secrets_at_rest)
    async with database(database_url):
        # when a secret would be written, then it is refused rather than stored in the clear
        with pytest.raises(RuntimeError, match="No secret key is loaded"):
            await SigningKey.create(id="docc-hs1", secret="x" * 64)
        assert not await SigningKey.exists()
