"""Latency of the pipeline and job lists, a full page of 100, through REST and GraphQL.

    python -m bench.list_bench [--repeat 30]

Starts the server in this process on a temporary SQLite control database with jobs and schedules off,
creates 100 scheduled pipelines (every other one paused) and 100 queued jobs through the REST API, then
times each list request and prints the median wall time and the median CPU time of the process, in
milliseconds (CPU time is the steadier figure on a busy machine).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from bench.job_bench import _admin_key
from server.app import create_app
from server.config import Settings

PAGE = 100
REQUESTS: dict[str, tuple[str, str, Any]] = {
    "REST GET /pipelines?per_page=100": ("GET", f"/api/v1/pipelines?per_page={PAGE}", None),
    "REST GET /jobs?per_page=100": ("GET", f"/api/v1/jobs?per_page={PAGE}", None),
    "GraphQL pipelines { id name version }": (
        "POST", "/graphql", {"query": f"{{ pipelines(first: {PAGE}) {{ nodes {{ id name version }} }} }}"}),
    "GraphQL pipelines { ... schedule { nextRuns } }": (
        "POST", "/graphql",
        {"query": f"{{ pipelines(first: {PAGE}) {{ nodes {{ id name version schedule {{ cron nextRuns }} }} }} }}"}),
    "GraphQL jobs { id status steps { stepId status } }": (
        "POST", "/graphql",
        {"query": f"{{ jobs(first: {PAGE}) {{ nodes {{ id status steps {{ stepId status }} }} }} }}"}),
}


async def _fill(client: TestClient, headers: dict[str, str], folder: str) -> None:
    await asyncio.to_thread(Path(folder, "in.csv").write_text, "id,name\n1,Ann\n")
    dataset = await (await client.post("/api/v1/datasets", headers=headers, json={
        "name": "people", "source": {"type": "file", "path": f"{folder}/in.csv"}})).json()
    steps = [{"id": "input", "type": "data_source", "config": {"dataset_id": dataset["id"]}},
             {"id": "clean", "type": "data_cleaner", "config": {"remove_duplicates": True}},
             {"id": "output", "type": "data_sink", "config": {"path": f"{folder}/out.csv"}}]
    for i in range(PAGE):
        resp = await client.post("/api/v1/pipelines", headers=headers, json={
            "name": f"p{i}", "steps": steps,
            "schedule": {"cron": "30 2 * * *", "timezone": "Europe/Berlin", "paused": i % 2 == 1}})
        pipeline = await resp.json()
        await client.post(f"/api/v1/pipelines/{pipeline['id']}/run", headers=headers)


async def run(repeat: int) -> None:
    with tempfile.TemporaryDirectory(prefix="docc-list-bench-") as folder:
        database_url = f"sqlite://{folder}/docc.db"
        key = await _admin_key(database_url)
        settings = replace(Settings(), database_url=database_url, file_roots=(folder,), data_dir=f"{folder}/data",
                           run_jobs=False, run_schedules=False,
                           rate_limit_per_minute=1_000_000, rate_limit_bulk_per_minute=1_000_000)
        headers = {"Authorization": f"Bearer {key}"}
        async with TestClient(TestServer(create_app(settings))) as client:
            await _fill(client, headers, folder)
            for label, (method, path, body) in REQUESTS.items():
                wall, cpu = [], []
                for _ in range(repeat + 3):
                    start, start_cpu = time.perf_counter(), time.process_time()
                    resp = await client.request(method, path, headers=headers, json=body)
                    await resp.read()
                    wall.append((time.perf_counter() - start) * 1000)
                    cpu.append((time.process_time() - start_cpu) * 1000)
                    assert resp.status == 200, await resp.text()
                # The first requests warm the parser caches; CPU time (client, server and the SQLite thread
                # together) is steadier than wall time on a shared machine.
                wall, cpu = wall[3:], cpu[3:]
                print(f"{label:55s} wall median {statistics.median(wall):7.1f} ms   "
                      f"cpu median {statistics.median(cpu):7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=30)
    asyncio.run(run(parser.parse_args().repeat))


if __name__ == "__main__":
    main()
