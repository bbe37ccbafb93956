"""Shared helpers of the engine tests: sample data, pipelines over it, and waiting on jobs."""

from __future__ import annotations

import asyncio
import os
import tempfile
from dataclasses import replace
from typing import Any

import polars as pl

from resolvers import datasets, pipelines
from resolvers.principal import ADMIN_SCOPE, DEFAULT_WORKSPACE_ID, Principal
from server.config import Settings
from server.engine.dataplane import Policy
from server.models.engine import FINISHED, Job

PRINCIPAL = Principal(subject="tests", workspace_id=DEFAULT_WORKSPACE_ID, scopes=frozenset({ADMIN_SCOPE}))
SCHEMA = {"fields": [
    {"name": "id", "type": "integer", "nullable": False},
    {"name": "name", "type": "string", "nullable": False},
    {"name": "age", "type": "integer", "nullable": True},
]}
# The engine tests keep their files in pytest's temporary folders: confine the data plane to those. The
# machine's own PostgreSQL is the user database of the tests that read one (DOCC_CONNECTION_LOCAL=true).
TEST_ROOTS = (os.path.realpath(tempfile.gettempdir()),)
TEST_POLICY = Policy(file_roots=TEST_ROOTS, local_hosts=True)


def settings_for(db: str, **values: Any) -> Settings:
    """Settings of an engine test on the database `db`, with its files confined to TEST_ROOTS."""
    values.setdefault("connection_local", True)
    return replace(Settings(), database_url=db, file_roots=TEST_ROOTS, **values)
# One exact duplicate, one padded name and one missing age.
CUSTOMERS = pl.DataFrame({"id": ["1", "1", "2", "3"], "name": [" Ann", " Ann", "Bob", "Cy "],
                          "age": ["30", "30", None, "41"]})
CLEANED = [(1, "Ann", 30), (3, "Cy", 41)]


def write_csv(path: str, frame: pl.DataFrame = CUSTOMERS) -> str:
    frame.write_csv(path)
    return path


async def csv_dataset(path: str, principal: Principal = PRINCIPAL, name: str = "customers") -> str:
    """A dataset over a CSV file; returns its id."""
    spec = datasets.DatasetCreate.model_validate(
        {"name": name, "source": {"type": "file", "path": path}, "schema": SCHEMA})
    row = await datasets.create_dataset(principal, spec, policy=TEST_POLICY)
    return row.id


def clean_steps(dataset_id: str, sink: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"id": "input", "type": "data_source", "config": {"dataset_id": dataset_id}},
        {"id": "clean", "type": "data_cleaner",
         "config": {"remove_duplicates": True, "handle_nulls": "drop", "trim": True, "cast": True}},
        {"id": "output", "type": "data_sink", "config": sink},
    ]


async def pipeline(dataset_id: str, sink: dict[str, Any], principal: Principal = PRINCIPAL,
                   name: str = "customer_data_processing") -> str:
    spec = pipelines.PipelineCreate(name=name, steps=clean_steps(dataset_id, sink))
    row = await pipelines.create_pipeline(principal, spec, policy=TEST_POLICY)
    return row.id


async def wait_finished(job_id: str, attempts: int = 400) -> Job:
    """Poll the store until the job ends (a bounded wait: fails instead of hanging)."""
    for _ in range(attempts):
        job = await Job.get(id=job_id)
        if job.status in FINISHED:
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish; status {job.status}")


async def wait_for(condition, attempts: int = 300) -> None:
    """Poll an async condition every 50 ms (a bounded wait: fails instead of hanging)."""
    for _ in range(attempts):
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")


def running(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def sqlite_rows(db: str, sql: str) -> list[tuple[Any, ...]]:
    return pl.read_database_uri(sql, f"sqlite:///{db}", engine="adbc").rows()
