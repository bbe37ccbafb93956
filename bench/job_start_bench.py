"""Job start latency: from the claim of a job to its first step starting, and to its end, on a 4-row pipeline.

    python bench/job_start_bench.py [--jobs 30]

Runs the executor in this process on a temporary SQLite control database, one job at a time, and
prints the median and the 90th percentile of both spans over the jobs after the first (the first
also pays for starting the job processes' forkserver, printed apart). Run it as a script path, not
with `-m`: a child of the forkserver re-imports a `-m` main module, which is not what a server pays.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import polars as pl

from resolvers import datasets, jobs, pipelines
from resolvers.principal import ADMIN_SCOPE, DEFAULT_WORKSPACE_ID, Principal
from server.config import Settings
from server.crypto.stored import secrets_at_rest
from server.db import database
from server.engine.dataplane import Policy
from server.engine.executor import Executor
from server.models.engine import Job, JobStep

PRINCIPAL = Principal(subject="bench", workspace_id=DEFAULT_WORKSPACE_ID, scopes=frozenset({ADMIN_SCOPE}))
SCHEMA = {"fields": [{"name": "id", "type": "integer"}, {"name": "name", "type": "string"}]}


async def _pipeline(folder: Path) -> str:
    policy = Policy(file_roots=(str(folder),))
    source = folder / "in.csv"
    pl.DataFrame({"id": [1, 2, 3, 4], "name": ["a", "b", "c", "d"]}).write_csv(source)
    spec = datasets.DatasetCreate.model_validate(
        {"name": "tiny", "source": {"type": "file", "path": str(source)}, "schema": SCHEMA})
    dataset = await datasets.create_dataset(PRINCIPAL, spec, policy=policy)
    made = await pipelines.create_pipeline(PRINCIPAL, {"name": "tiny", "steps": [
        {"id": "input", "type": "data_source", "config": {"dataset_id": dataset.id}},
        {"id": "clean", "type": "data_cleaner", "config": {"trim": True}},
        {"id": "output", "type": "data_sink", "config": {"path": str(folder / "out.csv")}}]}, policy=policy)
    return made.id


async def _spans(executor: Executor, pipeline_id: str) -> tuple[float, float]:
    job = await jobs.run_pipeline(PRINCIPAL, pipeline_id)
    began = time.perf_counter()
    await executor.drain()
    ended = time.perf_counter() - began
    row = await Job.get(id=job.id)
    if row.status != "succeeded":
        raise RuntimeError(f"bench job ended {row.status}: {row.error}")
    first = await JobStep.filter(job_id=job.id, step_id="input").first()
    assert row.started_at is not None and first is not None and first.started_at is not None
    return (first.started_at - row.started_at).total_seconds(), ended


async def run(count: int) -> None:
    """Time `count` jobs one after another and print the figures."""
    with tempfile.TemporaryDirectory(prefix="docc-start-bench-") as folder:
        url = f"sqlite://{folder}/docc.db"
        settings = replace(Settings(), database_url=url, file_roots=(folder,), data_dir=f"{folder}/data")
        async with database(url), secrets_at_rest(settings):
            pipeline_id = await _pipeline(Path(folder))
            executor = Executor(settings)
            cold = await _spans(executor, pipeline_id)
            warm = [await _spans(executor, pipeline_id) for _ in range(count - 1)]
    starts, totals = sorted(w[0] for w in warm), sorted(w[1] for w in warm)
    p90 = max(int(len(warm) * 0.9) - 1, 0)
    print(f"first job: claim to first step {cold[0] * 1000:.1f} ms, whole job {cold[1] * 1000:.1f} ms")
    print(f"next {len(warm)} jobs: claim to first step median {statistics.median(starts) * 1000:.1f} ms "
          f"(p90 {starts[p90] * 1000:.1f} ms), whole job median {statistics.median(totals) * 1000:.1f} ms "
          f"(p90 {totals[p90] * 1000:.1f} ms)")


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=30)
    asyncio.run(run(max(parser.parse_args().jobs, 2)))


if __name__ == "__main__":
    main()
