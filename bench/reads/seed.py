"""Realistic rows for the read bench, written in bulk straight through the ORM.

    python -m bench.reads.seed  (run by the bench; reads DOCC_* like the server)

1,000 datasets with 8-field schemas, tags and a first schema version; 200 pipelines that read them;
10,000 finished jobs with three steps and five log lines each; one admin key, printed on the last
line. Going through the domain would take minutes (one transaction per object); bulk inserts take
seconds and give the same rows.
"""

from __future__ import annotations

import asyncio
import random
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from resolvers.keys import KeyCreate, store_key
from resolvers.principal import DEFAULT_WORKSPACE_ID
from server.config import Settings
from server.crypto.stored import secrets_at_rest
from server.db import database
from server.models.base import new_id
from server.models.datasets import Dataset, DatasetTag, SchemaVersion
from server.models.engine import Job, JobLog, JobStep, Pipeline, PipelineVersion

DATASETS, PIPELINES, JOBS = 1_000, 200, 10_000
TAGS = ("finance", "sales", "pii", "daily", "raw", "curated", "eu", "us", "gold", "silver")
TYPES = ("integer", "string", "double", "boolean", "timestamp", "date", "bigint", "string")
BATCH = 500


def _schema(n: int) -> list[dict[str, Any]]:
    return [{"name": f"col_{n}_{i}", "type": TYPES[i], "nullable": i % 3 != 0,
             "description": f"column {i} of table {n}"} for i in range(8)]


def _source(n: int) -> dict[str, Any]:
    if n % 2:
        return {"type": "file", "path": f"/srv/data/table_{n}.parquet", "format": "parquet"}
    return {"type": "database", "connection": f"postgresql://etl:secret{n}@db{n % 5}.internal:5432/warehouse",
            "table": f"public.table_{n}"}


async def _bulk(model: Any, rows: list[Any]) -> None:
    for start in range(0, len(rows), BATCH):
        await model.bulk_create(rows[start:start + BATCH])


async def seed(ws: str = DEFAULT_WORKSPACE_ID) -> str:
    """Write every bench row; return a new admin key."""
    rng = random.Random(12)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    datasets, tags, versions = [], [], []
    for n in range(DATASETS):
        when = base + timedelta(minutes=n)
        chosen = rng.sample(TAGS, 3)
        row = Dataset(id=new_id("ds"), workspace_id=ws, name=f"table_{n:04d}", description=f"Table {n} of the bench",
                      source_type=_source(n)["type"], source=_source(n), schema_fields=_schema(n),
                      tags=chosen, quality_score=round(rng.random(), 3), created_at=when, updated_at=when)
        datasets.append(row)
        tags += [DatasetTag(workspace_id=ws, dataset_id=row.id, tag=tag, created_at=when, updated_at=when)
                 for tag in chosen]
        versions.append(SchemaVersion(id=new_id("sv"), workspace_id=ws, dataset_id=row.id, version=1,
                                      schema_fields=_schema(n), compatibility="BACKWARD", changes=[],
                                      created_by="bench", created_at=when, updated_at=when))
    await _bulk(Dataset, datasets)
    await _bulk(DatasetTag, tags)
    await _bulk(SchemaVersion, versions)
    pipelines, pipeline_versions = [], []
    for n in range(PIPELINES):
        when = base + timedelta(hours=n)
        steps = [{"id": "input", "type": "data_source", "config": {"dataset_id": datasets[(n * 5) % DATASETS].id}},
                 {"id": "clean", "type": "data_cleaner", "config": {"trim": True, "drop_nulls": True}},
                 {"id": "output", "type": "data_sink", "config": {"path": f"/srv/out/p{n}.parquet"}}]
        row = Pipeline(id=new_id("pl"), workspace_id=ws, name=f"pipeline_{n:03d}", steps=steps,
                       created_by="bench", created_at=when, updated_at=when)
        pipelines.append(row)
        pipeline_versions.append(PipelineVersion(id=new_id("pv"), pipeline_id=row.id, version=1, name=row.name,
                                                 steps=steps, created_by="bench", created_at=when))
    await _bulk(Pipeline, pipelines)
    await _bulk(PipelineVersion, pipeline_versions)
    jobs, steps, logs = [], [], []
    for n in range(JOBS):
        pipeline = pipelines[n % PIPELINES]
        began = base + timedelta(minutes=10 * n)
        ended = began + timedelta(seconds=30)
        status = "failed" if n % 10 == 0 else "succeeded"
        job = Job(id=new_id("job"), workspace_id=ws, pipeline_id=pipeline.id, pipeline_version=1,
                  steps=pipeline.steps, status=status, trigger="manual", created_by="bench", started_at=began,
                  finished_at=ended, progress=1.0, statistics={"rows_in": 1000, "rows_out": 990},
                  error="boom" if status == "failed" else None, created_at=began, updated_at=ended)
        jobs.append(job)
        for position, step in enumerate(pipeline.steps):
            steps.append(JobStep(job_id=job.id, position=position, step_id=step["id"], type=step["type"],
                                 status="succeeded", rows_in=1000, rows_out=990, duration_s=1.5,
                                 started_at=began, finished_at=ended))
        logs += [JobLog(job_id=job.id, seq=seq, time=began + timedelta(seconds=seq), level="INFO",
                        step_id="clean", message=f"step line {seq}") for seq in range(1, 6)]
    await _bulk(Job, jobs)
    await _bulk(JobStep, steps)
    await _bulk(JobLog, logs)
    created = await store_key(ws, KeyCreate(name="bench", scopes=["admin"]), "bench")
    return created.secret


async def main() -> None:
    settings = Settings.from_env()
    async with database(settings.database_url), secrets_at_rest(settings):
        async with in_transaction():  # one commit: on SQLite, one sync to disk instead of one per batch
            secret = await seed()
        print(secret)


if __name__ == "__main__":
    asyncio.run(main())
    sys.stdout.flush()
