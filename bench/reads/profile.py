"""Where one case's time goes: the app in this process on a seeded SQLite file, under pyinstrument.

    python -m bench.reads.profile gql_list [--requests 200] [--time]

A create sends a fresh name each time; a case with a write (`rest_list_written`) sends the create before
each read: its figures are for the pair, then for the reads alone. Requires pyinstrument (`pip install -e '.[bench]'`; a
development tool, not a dependency of the server). `--time` only times the requests (wall and CPU time of
this process, client included). Machine load changes the totals, not where the time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from tortoise.transactions import in_transaction

from bench.reads.cases import build_cases
from bench.reads.processes import base_env


async def seeded_copy() -> tuple[Any, str, Path]:
    """Settings of a fresh copy of the seeded profile database, the seeded admin key, and the copy's folder
    (the caller removes it). The seed is made once and kept: the next run starts in seconds; each run reads
    and writes its own copy, so every run starts from the same rows (creates would otherwise grow the lists
    run after run)."""
    from bench.reads.seed import seed
    from server.config import Settings
    from server.crypto.stored import secrets_at_rest
    from server.db import database

    folder = Path(tempfile.gettempdir()) / "docc-read-profile"
    folder.mkdir(exist_ok=True)
    seeded = folder / "seeded.db"
    env = base_env(f"sqlite://{seeded}", folder, 0)
    env.pop("DOCC_SECRET_KEY")
    env.update({"DOCC_RUN_SCHEDULES": "false", "DOCC_LOG_LEVEL": "WARNING",
                "DOCC_SECRET_KEY_FILE": str(folder / "docc.key")})
    if not (folder / "api.key").exists() or not seeded.exists():
        settings = Settings.from_env(env)
        async with database(settings.database_url), secrets_at_rest(settings), in_transaction():
            (folder / "api.key").write_text(await seed())
    scratch = Path(tempfile.mkdtemp(prefix="docc-profile-run-"))
    with sqlite3.connect(seeded) as source, sqlite3.connect(scratch / "docc.db") as copy:
        source.backup(copy)
    env["DOCC_DATABASE_URL"] = f"sqlite://{scratch / 'docc.db'}"
    return Settings.from_env(env), (folder / "api.key").read_text(), scratch


async def _profile(case_name: str, requests: int, timing_only: bool) -> None:
    from pyinstrument import Profiler

    from server.app import create_app

    settings, key, scratch = await seeded_copy()
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    try:
        base = str(client.make_url("")).rstrip("/")
        cases = await asyncio.to_thread(build_cases, base, key)
        case = next(c for c in cases if c.name == case_name)
        headers = {"Authorization": f"Bearer {key}", **case.headers}
        run = f"p{time.time_ns()}"
        numbers = iter(range(10**9))
        reads = {"cpu": 0.0, "wall": 0.0}

        async def send() -> None:
            # A create takes a fresh name each time; a case with a write sends it before each read.
            if case.write is not None:
                path, body = case.write
                written = await client.post(path, headers={**headers, "Content-Type": "application/json"},
                                            data=body.replace("@N@", f"{run}_{next(numbers)}"))
                assert written.status == 201, await written.text()
            body = case.body.replace("@N@", f"{run}_{next(numbers)}") if case.unique and case.body else case.body
            began, cpu = time.perf_counter(), time.process_time()
            answer = await client.request(case.method, case.path, headers=headers, data=body)
            await answer.read()
            reads["wall"] += time.perf_counter() - began
            reads["cpu"] += time.process_time() - cpu
            assert answer.status < 400, await answer.text()

        for _ in range(20):  # warm caches and connections
            await send()
        reads.update(cpu=0.0, wall=0.0)
        profiler = Profiler(interval=0.0005, async_mode="disabled")
        began, cpu = time.perf_counter(), time.process_time()
        if not timing_only:
            profiler.start()
        for _ in range(requests):
            await send()
        spent, cpu = time.perf_counter() - began, time.process_time() - cpu
        if not timing_only:
            profiler.stop()
            print(profiler.output_text(unicode=False, color=False, show_all=False))
        print(f"{requests} requests of {case_name}: {1000 * spent / requests:.2f} ms each, "
              f"{1000 * cpu / requests:.2f} ms CPU of this process each ({'timed' if timing_only else 'profiled'})")
        if case.write is not None:
            print(f"  of which the reads alone: {1000 * reads['wall'] / requests:.2f} ms each, "
                  f"{1000 * reads['cpu'] / requests:.2f} ms CPU each")
    finally:
        await client.close()
        shutil.rmtree(scratch, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("case")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--time", action="store_true", help="only time the requests, without the profiler")
    args = parser.parse_args()
    os.environ.setdefault("PYTHONHASHSEED", "0")
    asyncio.run(_profile(args.case, args.requests, args.time))


if __name__ == "__main__":
    main()
