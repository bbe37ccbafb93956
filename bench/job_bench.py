"""End-to-end throughput: a pipeline run as a DOCC job over HTTP, next to the same work in direct Polars.

    python -m bench.job_bench --rows 1000000 [--postgres postgres://postgres@127.0.0.1:5432/test] [--overlap]
                              [--sinks 2]

Starts the server in this process on a temporary SQLite control database, creates the dataset and the
pipeline through the REST API, then times `POST /pipelines/{id}/run` until the job's log stream reports
the end: request handling, queueing, the executor thread, the data plane and the atomic sink swap.
The direct figure is the same cleaning written by hand (bench.pipeline_bench.direct), in the same run.

`--overlap` starts two runs of one pipeline (`concurrency: allow`) into the same table at once and times
until both have ended: the second waits for the first's writer lease, then writes. Its direct figure is
the same cleaning written twice, one after the other.

`--sinks 2` gives the pipeline two sinks, two tables with the same rows: the job stages both and
publishes them together. Its direct figure collects once and writes both tables.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import orjson
from aiohttp.test_utils import TestClient, TestServer

from bench.pipeline_bench import CLEANER, SCHEMA, direct, generate
from resolvers.keys import KeyCreate, store_key
from server.app import create_app
from server.config import Settings
from server.db import database


async def _admin_key(database_url: str) -> str:
    async with database(database_url):
        return (await store_key("ws_default", KeyCreate(name="bench", scopes=["admin"]), "bench")).secret


async def _run_job(client: TestClient, headers: dict[str, str], pipeline_id: str) -> tuple[float, dict]:
    start = time.perf_counter()
    job = await (await client.post(f"/api/v1/pipelines/{pipeline_id}/run", headers=headers)).json()
    async with client.get(f"/api/v1/jobs/{job['id']}/logs?follow=true", headers=headers) as stream:
        async for line in stream.content:
            event = orjson.loads(line)
            if event["type"] == "end":
                return time.perf_counter() - start, event["job"]
    raise RuntimeError("the log stream ended without an end message")


async def _run_two(client: TestClient, headers: dict[str, str], pipeline_id: str) -> tuple[float, dict]:
    """Two runs asked for at once; the time until both ended, and the later one."""
    start = time.perf_counter()
    ended = await asyncio.gather(*[_run_job(client, headers, pipeline_id) for _ in range(2)])
    for _, job in ended:
        if job["status"] != "succeeded":
            raise RuntimeError(f"bench job ended {job['status']}: {job['error']}")
    return time.perf_counter() - start, max(ended, key=lambda pair: pair[0])[1]


async def through_jobs(path: Path, uri: str, repeat: int, overlap: bool = False,
                       between: Callable[[], None] = lambda: None, sinks: int = 1) -> tuple[float, int]:
    """Best wall time of `repeat` jobs (pairs of overlapping jobs), and the rows the last one wrote.

    `between` runs before each job (the direct figure), so both sides see the same machine load.
    """
    with tempfile.TemporaryDirectory(prefix="docc-job-bench-") as control:
        database_url = f"sqlite://{control}/docc.db"
        key = await _admin_key(database_url)
        settings = replace(Settings(), database_url=database_url, connections={"bench": uri},
                           file_roots=(str(path.parent),), data_dir=f"{control}/data",
                           rate_limit_per_minute=100_000, rate_limit_bulk_per_minute=100_000)
        headers = {"Authorization": f"Bearer {key}"}
        async with TestClient(TestServer(create_app(settings))) as client:
            dataset = await (await client.post("/api/v1/datasets", headers=headers, json={
                "name": "bench_customers", "source": {"type": "file", "path": str(path)}, "schema": SCHEMA})).json()
            pipeline = await (await client.post("/api/v1/pipelines", headers=headers, json={
                "name": "bench", "concurrency": "allow" if overlap else "queue", "steps": [
                    {"id": "input", "type": "data_source", "config": {"dataset_id": dataset["id"]}},
                    {"id": "clean", "type": "data_cleaner", "config": CLEANER},
                    *({"id": f"output_{n}", "type": "data_sink",
                       "config": {"destination": f"bench.bench_job_{n}" if sinks > 1 else "bench.bench_job"}}
                      for n in range(sinks))]})).json()
            best, written = float("inf"), 0
            for _ in range(repeat):
                await asyncio.to_thread(between)
                run = _run_two if overlap else _run_job
                seconds, job = await run(client, headers, pipeline["id"])
                if job["status"] != "succeeded":
                    raise RuntimeError(f"bench job ended {job['status']}: {job['error']}")
                best, written = min(best, seconds), job["statistics"]["rows_written"]
            return best, written


def measure(label: str, rows: int, path: Path, uri: str, repeat: int, overlap: bool = False, sinks: int = 1) -> None:
    """Print both rates and their ratio; a direct run goes before each job (pair), best of each kept."""
    direct_best, direct_written = float("inf"), 0

    def direct_once() -> None:
        nonlocal direct_best, direct_written
        start = time.perf_counter()
        for _ in range(2 if overlap else 1):
            direct_written = direct(path, uri, "bench_direct", sinks)
        direct_best = min(direct_best, time.perf_counter() - start)

    job_best, job_written = asyncio.run(through_jobs(path, uri, repeat, overlap, between=direct_once, sinks=sinks))
    rows = rows * 2 if overlap else rows
    label = f"{label} x2" if overlap else label
    label = f"{label}, {sinks} sinks" if sinks > 1 else label
    print(f"{label:10} direct Polars {rows / direct_best:>12,.0f} rows/s ({direct_best:.2f} s)   "
          f"DOCC job {rows / job_best:>12,.0f} rows/s ({job_best:.2f} s)   "
          f"ratio {direct_best / job_best:.2f}   rows written {job_written:,} / {direct_written:,}")


def main() -> None:
    """Parse arguments, generate data, print the figures per destination."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--postgres", help="PostgreSQL URL to write into (tables bench_direct, bench_job)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--overlap", action="store_true", help="Two runs into one table at once")
    parser.add_argument("--sinks", type=int, default=1, help="tables the pipeline writes with the same rows")
    args = parser.parse_args()
    path = generate(args.rows)
    print(f"input {path} ({args.rows:,} rows, {path.stat().st_size / 1e6:.0f} MB)")
    with tempfile.TemporaryDirectory(prefix="docc-bench-") as tmp:
        measure("sqlite", args.rows, path, f"sqlite:///{tmp}/bench.db", args.repeat, args.overlap, args.sinks)
    if args.postgres:
        measure("postgresql", args.rows, path, args.postgres, args.repeat, args.overlap, args.sinks)


if __name__ == "__main__":
    main()
