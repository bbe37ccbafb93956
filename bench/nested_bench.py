"""Pages of 100 objects, each with a nested connection: CPU time and SQL statements per request.

    python -m bench.nested_bench [--repeat 30] [--postgres postgres://postgres@127.0.0.1:5432/postgres]

Seeds a scratch database with the read bench's rows (`bench/reads/seed.py`: 1,000 datasets with a schema
version each, 200 pipelines with a version and 50 finished jobs each; a new SQLite file, or a new
PostgreSQL database dropped afterwards), starts the server in this process with jobs and schedules off,
and sends each query `repeat` times after 3 warm-up requests, with the GraphQL read cache emptied so that
every request executes. Prints the median wall and CPU time per request in milliseconds (CPU time of this
process: client, server and SQLite's thread together, the steadier figure on a busy machine) and the SQL
statements each request sent.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from bench.reads.processes import scratch_database
from bench.reads.seed import seed
from server.app import create_app
from server.config import Settings
from server.crypto.stored import secrets_at_rest
from server.db import database
from server.edge.cache import LruCache
from server.graphql import DoccGraphQLView

PAGE = "totalCount pageInfo { hasNextPage endCursor }"
QUERIES = {
    "datasets(first: 100) > schemaHistory(first: 2)":
        f"{{ datasets(first: 100) {{ nodes {{ id schemaHistory(first: 2) {{ {PAGE} nodes {{ version }} }} }} }} }}",
    "pipelines(first: 100) > versions(first: 2)":
        f"{{ pipelines(first: 100) {{ nodes {{ id versions(first: 2) {{ {PAGE} nodes {{ version }} }} }} }} }}",
    "pipelines(first: 100) > jobs(first: 2)":
        f"{{ pipelines(first: 100) {{ nodes {{ id jobs(first: 2) {{ {PAGE} nodes {{ id status }} }} }} }} }}",
}


class Statements(logging.Handler):
    """Counts the statements Tortoise sends (it logs each one on `tortoise.db_client` at DEBUG)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


def _no_answer_cache(client: TestClient) -> None:
    for route in client.app.router.routes():
        if isinstance(route.handler, DoccGraphQLView):
            route.handler.cache.answers = LruCache(0)  # every request executes, none is answered from memory


async def run(database_url: str, folder: str, repeat: int) -> None:
    settings = replace(Settings(), database_url=database_url, file_roots=(folder,), data_dir=f"{folder}/data",
                       secret_key_file=f"{folder}/docc.key", run_jobs=False, run_schedules=False,
                       rate_limit_per_minute=1_000_000_000, rate_limit_bulk_per_minute=1_000_000_000)
    async with database(database_url), secrets_at_rest(settings):
        key = await seed()
    headers = {"Authorization": f"Bearer {key}"}
    statements, logger = Statements(), logging.getLogger("tortoise.db_client")
    async with TestClient(TestServer(create_app(settings))) as client:
        _no_answer_cache(client)
        logger.addHandler(statements)
        logger.setLevel(logging.DEBUG)
        for label, query in QUERIES.items():
            wall, cpu, sent = [], [], []
            for _ in range(repeat + 3):
                before, start, start_cpu = statements.count, time.perf_counter(), time.process_time()
                resp = await client.post("/graphql", headers=headers, json={"query": query})
                body: Any = await resp.json()
                wall.append((time.perf_counter() - start) * 1000)
                cpu.append((time.process_time() - start_cpu) * 1000)
                sent.append(statements.count - before)
                assert resp.status == 200 and "errors" not in body, body
            print(f"{label:50s} wall median {statistics.median(wall[3:]):7.1f} ms   "
                  f"cpu median {statistics.median(cpu[3:]):7.1f} ms   statements {statistics.median(sent[3:]):.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--postgres", help="a PostgreSQL server URL: the bench creates (and drops) its own database")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="docc-nested-bench-") as folder:
        with scratch_database(args.postgres, Path(folder)) as database_url:
            asyncio.run(run(database_url, folder, args.repeat))


if __name__ == "__main__":
    main()
