"""The API process leaves the data plane's engines unloaded until a request really parses with them.

Polars, pyarrow, the ADBC drivers and sqlglot are most of an idle server's memory; the API process
checks sources and steps with the data plane's light modules, and the job forkserver (a process of its
own) imports the engines. Each test runs a fresh interpreter: this one has imported everything already.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("polars", "pyarrow", "adbc_driver_manager", "adbc_driver_sqlite", "adbc_driver_postgresql", "sqlglot")

# Started as `python -m server` starts it (settings from the environment, create_app), then asked, in
# order, for requests that check input with the light modules, then for one whose filter Polars parses.
SCRIPT = """
import asyncio, json, sys
from aiohttp.test_utils import TestClient, TestServer
from resolvers.keys import KeyCreate, store_key
from server.app import create_app
from server.config import Settings
from server.db import database

HEAVY = sys.argv[1:]

def loaded():
    return sorted(name for name in HEAVY if name in sys.modules)

async def main():
    settings = Settings.from_env()
    async with database(settings.database_url):
        key = await store_key("ws_default", KeyCreate(name="k", scopes=["admin"]), "tests")
    report = {"built": loaded()}
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    try:
        report["started"] = loaded()
        headers = {"Authorization": f"Bearer {key.secret}"}

        async def send(method, path, body=None):
            resp = await client.request(method, path, json=body, headers=headers)
            payload = await resp.json()
            return resp.status, payload.get("error", {}).get("details", {}).get("field")

        source = {"type": "file", "path": "/data/in.csv"}
        report["dataset"] = await send("POST", "/api/v1/datasets", {"name": "in", "source": source})
        report["bad_source"] = await send("POST", "/api/v1/datasets", {"name": "x", "source": {"type": "ftp"}})
        datasets = await (await client.get("/api/v1/datasets", headers=headers)).json()
        dataset_id = datasets["data"][0]["id"]
        steps = [{"id": "read", "type": "data_source", "config": {"dataset_id": dataset_id}},
                 {"id": "clean", "type": "data_cleaner", "depends_on": ["read"],
                  "config": {"trim": True, "cast": {"n": "integer"}}},
                 {"id": "gate", "type": "quality_check", "depends_on": ["clean"],
                  "config": {"checks": [{"rule_type": "not_null", "config": {"column": "n"}}]}},
                 {"id": "out", "type": "data_sink", "depends_on": ["gate"], "config": {"path": "/data/out.csv"}}]
        report["pipeline"] = await send("POST", "/api/v1/pipelines", {"name": "p", "steps": steps})
        bad_cast = [steps[0], {**steps[1], "config": {"cast": {"n": {"type": "decimal", "precision": 99}}}}]
        report["bad_cast"] = await send("POST", "/api/v1/pipelines", {"name": "q", "steps": bad_cast})
        report["validated"] = loaded()
        filtered = [{**steps[0], "config": {"dataset_id": dataset_id, "filter": "n > 1"}}]
        report["filter"] = await send("POST", "/api/v1/pipelines", {"name": "f", "steps": filtered})
        broken = [{**steps[0], "config": {"dataset_id": dataset_id, "filter": "n >"}}]
        report["bad_filter"] = await send("POST", "/api/v1/pipelines", {"name": "g", "steps": broken})
        report["parsed"] = loaded()
    finally:
        await client.close()
    print(json.dumps(report))

asyncio.run(main())
"""


@pytest.fixture
def report(database_url: str, tmp_path) -> dict:
    """What the fresh server process loaded at each stage, and the answers it gave."""
    env = {**os.environ, "DOCC_DATABASE_URL": database_url, "DOCC_SECRET_KEY": Fernet.generate_key().decode(),
           "DOCC_FILE_ROOTS": f"{tmp_path}:/data", "DOCC_DATA_DIR": str(tmp_path / "data"),
           "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", SCRIPT, *HEAVY], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_api_process_starts_and_validates_without_the_data_engines(report):
    # given / when: a fresh server process, started and asked to save a dataset and a four-step pipeline
    # then: the answers are those of a full check, and no engine was imported for them
    assert report["built"] == [] and report["started"] == []
    assert report["dataset"] == [201, None]
    assert report["bad_source"] == [400, "source.type"]
    assert report["pipeline"] == [201, None]
    assert report["bad_cast"] == [400, "steps[1].config.cast.n"]
    assert report["validated"] == []


def test_a_filter_is_still_parsed_by_polars_when_one_is_saved(report):
    # given: the same process, which has not loaded Polars yet
    # when: a pipeline with a filter is saved, then one whose filter does not parse
    # then: Polars is imported for that parse, and both answers are the full check's
    assert report["filter"] == [201, None]
    assert report["bad_filter"] == [400, "steps[0].config.filter"]
    assert "polars" in report["parsed"]
