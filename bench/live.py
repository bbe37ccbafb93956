"""Live job logs at scale: many watchers of one job that writes lines fast.

    python -m bench.live [--subscribers 1000] [--rate 1000] [--seconds 30] [--postgres URL [--workers N]]
                         [--loaders 1] [--rounds ws,sse] [--deadline 120]

Starts the server itself on a scratch database (SQLite, or a new PostgreSQL database with --postgres),
with a writer inside the server process that writes `--rate` log lines a second for `--seconds` to a
running job through the job's journal (the path a job's lines take: stored, then published), then
finishes the job. The writer is a bench-only hook of this module, started by a signal from the bench;
the production server has no such hook. With `--workers N` (PostgreSQL only) the server is the production
one, `DOCC_WORKERS=N` processes on one port, and the writer is a process of its own (as a job's worker
would be) whose lines reach every server process through LISTEN/NOTIFY.

Round `ws`: `--subscribers` graphql-transport-ws subscriptions to jobLogs; round `sse`: as many
Server-Sent Events followers of GET /api/v1/jobs/{id}/logs?follow=true. The load generator runs in its own
process(es) (`--loaders`). A follower told it lagged resumes from its cursor, as a client should.

Reported per round: delivery latency from the write to the receipt (median, p99), lines lost (a line a
follower never received, or received twice: must be 0), lag notices, lines still undelivered when
`--deadline` seconds passed after the writer stopped, the server's peak resident memory, and the CPU time
the server's processes spent from the first line to the end of the round (in all, and per line delivered:
on a shared machine the figure that depends least on the other work).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from bench.reads.processes import MemoryWatch, base_env, cpu_seconds, free_port, python, scratch_database, started

SUBSCRIPTION = "subscription ($id: ID!, $after: Int!) { jobLogs(jobId: $id, after: $after) { " \
               "__typename ... on JobLogLine { seq message } } }"
BUCKET = 10_000  # latencies are counted in buckets of 0.1 ms


# The server side: seed, serve, and write lines when told.

async def _seed(rounds: int) -> tuple[str, list[str]]:
    """An admin key and `rounds` running jobs (one per round), each with no line yet."""
    from resolvers.keys import KeyCreate, store_key
    from resolvers.principal import DEFAULT_WORKSPACE_ID as WS
    from server.models.base import new_id
    from server.models.engine import Job, Pipeline, PipelineVersion

    steps = [{"id": "write", "type": "data_source", "config": {}}]
    pipeline = await Pipeline.create(id=new_id("pl"), workspace_id=WS, name="live_bench", steps=steps,
                                     created_by="bench")
    await PipelineVersion.create(id=new_id("pv"), pipeline_id=pipeline.id, version=1, name=pipeline.name,
                                 steps=steps, created_by="bench")
    jobs = [await Job.create(id=new_id("job"), workspace_id=WS, pipeline_id=pipeline.id, pipeline_version=1,
                             steps=steps, status="running", trigger="manual", created_by="bench")
            for _ in range(rounds)]
    key = await store_key(WS, KeyCreate(name="bench", scopes=["admin"]), "bench")
    return key.secret, [job.id for job in jobs]


async def _write(journal: Any, rate: int, seconds: float) -> None:
    """`rate` lines a second for `seconds`, each carrying the wall-clock time it was handed to the journal."""
    started_at, written, total = time.monotonic(), 0, int(rate * seconds)
    while written < total:
        due = int((time.monotonic() - started_at) * rate) + 1
        while written < min(due, total):
            written += 1
            await journal.log("info", "write", f"{time.time():.6f} line {written}")
        await asyncio.sleep(max(0.0, started_at + written / rate - time.monotonic()))
    await journal.update_job(status="succeeded")


def write(rate: int, seconds: float, job_id: str) -> None:
    """The writer as a process of its own: its lines reach the servers through PostgreSQL's LISTEN/NOTIFY."""
    from server.config import Settings
    from server.db import database
    from server.engine.bus import EventBus
    from server.engine.journal import Journal
    from server.engine.pg_relay import relay_for

    async def main() -> None:
        settings, bus = Settings.from_env(), EventBus()
        async with database(settings.database_url), relay_for(settings.database_url, bus):
            await _write(Journal(job_id, bus=bus), rate, seconds)

    asyncio.run(main())


def serve(rate: int, seconds: float, job_ids: list[str]) -> None:
    """The server under test, plus the writer: each SIGUSR1 starts writing to the next job."""
    from aiohttp import web

    from server.app import create_app
    from server.config import Settings
    from server.engine.journal import Journal
    from server.engine.service import EVENT_BUS

    async def main() -> None:
        settings = Settings.from_env()
        app = create_app(settings)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, settings.host, settings.port, backlog=4096).start()
        loop, queue = asyncio.get_running_loop(), list(job_ids)
        writers: set[asyncio.Task[None]] = set()

        def next_job() -> None:
            journal = Journal(queue.pop(0), bus=app[EVENT_BUS])
            writers.add(loop.create_task(_write(journal, rate, seconds)))

        loop.add_signal_handler(signal.SIGUSR1, next_job)
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await runner.cleanup()

    asyncio.run(main())


# The load generator: followers over graphql-transport-ws or SSE.

class Tally:
    def __init__(self, followers: int) -> None:
        self.connected, self.followers, self.all_connected = 0, followers, asyncio.Event()
        self.latency: Counter[int] = Counter()
        self.received = self.lost = self.lagged = self.duplicates = 0
        self.first_write, self.last_write, self.top_seq = float("inf"), 0.0, 0

    def connect(self) -> None:
        self.connected += 1
        if self.connected >= self.followers:
            self.all_connected.set()

    def line(self, message: str, seq: int, expected: int) -> int:
        """Count a received line; returns the next expected seq."""
        written = float(message.split(" ", 1)[0])
        self.latency[int((time.time() - written) * BUCKET)] += 1
        self.first_write, self.last_write = min(self.first_write, written), max(self.last_write, written)
        self.top_seq = max(self.top_seq, seq)
        self.received += 1
        if seq < expected:
            self.duplicates += 1
            return expected
        self.lost += seq - expected
        return seq + 1


async def _ws_follower(session: Any, base: str, key: str, job_id: str, tally: Tally) -> None:
    import aiohttp

    async with session.ws_connect(f"{base}/graphql", protocols=["graphql-transport-ws"], max_msg_size=0) as ws:
        await ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}})
        assert (await ws.receive_json())["type"] == "connection_ack"
        tally.connect()
        expected, operation = 1, 0
        while True:
            operation += 1
            await ws.send_json({"id": str(operation), "type": "subscribe", "payload": {
                "query": SUBSCRIPTION, "variables": {"id": job_id, "after": expected - 1}}})
            while True:
                received = await ws.receive()
                if received.type != aiohttp.WSMsgType.TEXT:
                    raise RuntimeError(f"{received.type.name} {ws.close_code} {received.extra}")
                message = orjson.loads(received.data)
                if message["type"] == "complete":
                    return
                if message["type"] == "ping":
                    await ws.send_json({"type": "pong"})
                    continue
                payload = message["payload"]
                if message["type"] == "error" or payload.get("errors"):
                    errors = payload if message["type"] == "error" else payload["errors"]
                    if errors[0]["extensions"]["code"] != "SUBSCRIBER_LAGGED":
                        raise RuntimeError(errors)
                    tally.lagged += 1
                    expected = errors[0]["extensions"]["cursor"] + 1
                    break  # resubscribe from the cursor
                item = payload["data"]["jobLogs"]
                if item["__typename"] == "JobLogLine":
                    expected = tally.line(item["message"], item["seq"], expected)


async def _sse_follower(session: Any, base: str, key: str, job_id: str, tally: Tally) -> None:
    expected = 1
    while True:
        headers = {"Authorization": f"Bearer {key}", "Accept": "text/event-stream"}
        if expected > 1:
            headers["Last-Event-ID"] = str(expected - 1)
        async with session.get(f"{base}/api/v1/jobs/{job_id}/logs?follow=true&after=0", headers=headers,
                               timeout=None) as resp:
            if expected == 1:
                tally.connect()
            # Whole events are parsed from what each read brings (a line at a time cost the load generator
            # more than the server spent on them).
            rest = b""
            async for chunk in resp.content.iter_any():
                *events, rest = (rest + chunk).split(b"\n\n")
                for block in events:
                    fields = dict(line.split(b": ", 1) for line in block.split(b"\n")
                                  if b": " in line and not line.startswith(b":"))
                    kind = fields.get(b"event")
                    if kind == b"log":
                        body = orjson.loads(fields[b"data"])
                        expected = tally.line(body["message"], body["seq"], expected)
                    elif kind == b"lagged":
                        tally.lagged += 1
                        expected = orjson.loads(fields[b"data"])["cursor"] + 1
                        break
                    elif kind == b"end":
                        return
                else:
                    continue
                break


def load(kind: str, base: str, key: str, job_id: str, count: int, limit: float, ready: Any, results: Any) -> None:
    """One load process: `count` followers of one kind; puts its tally on `results` when they are done, or
    `limit` seconds after they all connected (then the unfinished ones are counted as such)."""
    import aiohttp

    async def main() -> None:
        tally = Tally(count)
        follower = _ws_follower if kind == "ws" else _sse_follower
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None)) as session:
            tasks = [asyncio.create_task(follower(session, base, key, job_id, tally)) for _ in range(count)]
            await asyncio.wait({asyncio.ensure_future(tally.all_connected.wait()), *tasks},
                               return_when=asyncio.FIRST_COMPLETED)
            ready.put(count)
            done, pending = await asyncio.wait(tasks, timeout=limit)
            for task in pending:
                task.cancel()
            failures = [task.exception() for task in done if task.exception() is not None]
        results.put((tally.latency, tally.received, tally.lost, tally.lagged, tally.duplicates,
                     [repr(f) for f in failures[:3]], len(failures), len(pending),
                     (tally.first_write, tally.last_write, tally.top_seq)))

    asyncio.run(main())


def _percentile(latency: Counter[int], fraction: float) -> float:
    total, seen = sum(latency.values()), 0
    for bucket in sorted(latency):
        seen += latency[bucket]
        if seen >= fraction * total:
            return bucket / BUCKET * 1000
    return float("nan")


def _round(kind: str, args: argparse.Namespace, base: str, key: str, job_id: str, server: Any,
           env: dict[str, str]) -> None:
    context = multiprocessing.get_context("spawn")
    ready, results = context.Queue(), context.Queue()
    shares = [args.subscribers // args.loaders + (i < args.subscribers % args.loaders) for i in range(args.loaders)]
    limit = args.settle + args.seconds + args.deadline
    loaders = [context.Process(target=load, args=(kind, base, key, job_id, share, limit, ready, results))
               for share in shares if share]
    with MemoryWatch(server.pid) as memory:
        for loader in loaders:
            loader.start()
        for _ in loaders:
            ready.get(timeout=300)
        # Every follower is connected; give the last ones' subscriptions a moment to open. A line written
        # before one opens is not lost (each reads the store from the start), only counted late.
        time.sleep(args.settle)
        spent = cpu_seconds(server.pid)
        if args.workers > 1:
            writer = subprocess.Popen(python("bench.live", "write", str(args.rate), str(args.seconds), job_id),
                                      env=env)
        else:
            os.kill(server.pid, signal.SIGUSR1)
        collected = [results.get(timeout=limit + 60) for _ in loaders]
        for loader in loaders:
            loader.join()
        if args.workers > 1:
            writer.wait()
        peak = memory.peak()
        spent = cpu_seconds(server.pid) - spent
    latency: Counter[int] = Counter()
    received = lost = lagged = duplicates = failed = unfinished = top = 0
    first, last = float("inf"), 0.0
    for part in collected:
        latency.update(part[0])
        received, lost, lagged, duplicates = (received + part[1], lost + part[2], lagged + part[3],
                                              duplicates + part[4])
        failed, unfinished = failed + part[6], unfinished + part[7]
        first, last, top = min(first, part[8][0]), max(last, part[8][1]), max(top, part[8][2])
        for failure in part[5]:
            print(f"  follower failed: {failure}", file=sys.stderr)
    expected = int(args.rate * args.seconds) * args.subscribers
    achieved = (top - 1) / (last - first) if last > first else 0.0
    print(f"| {kind} | {args.subscribers} | {args.rate} ({achieved:.0f} achieved) | {args.seconds} "
          f"| {_percentile(latency, 0.5):.1f} "
          f"| {_percentile(latency, 0.99):.1f} | {lost + duplicates} | {lagged} "
          f"| {expected - received} | {unfinished} | {failed} | {peak:.0f} | {spent:.1f} "
          f"| {1e6 * spent / max(received, 1):.1f} |", flush=True)


def run(args: argparse.Namespace) -> None:
    kinds = [kind for kind in args.rounds.split(",") if kind]
    with tempfile.TemporaryDirectory(prefix="docc-live-bench-") as scratch:
        folder = Path(scratch)
        with scratch_database(args.postgres, folder) as database_url:
            port = free_port()
            env = base_env(database_url, folder, port)
            env.update({"DOCC_RUN_JOBS": "false", "DOCC_RUN_SCHEDULES": "false", "DOCC_LOG_LEVEL": "WARNING",
                        "DOCC_WS_MAX_SOCKETS_PER_CREDENTIAL": "1000000",
                        "DOCC_WS_MAX_SUBSCRIPTIONS_PER_CREDENTIAL": "1000000"})
            seeded = subprocess.run(python("bench.live", "seed", str(len(kinds))), env=env,
                                                  capture_output=True, text=True, check=True)
            key, *job_ids = seeded.stdout.split()
            base = f"http://127.0.0.1:{port}"
            argv = python("bench.live", "serve", str(args.rate), str(args.seconds), *job_ids)
            if args.workers > 1:
                argv = python("server")
                env["DOCC_WORKERS"] = str(args.workers)
            print(f"Database: {'PostgreSQL' if args.postgres else 'SQLite'}; {args.workers} server process(es); "
                  f"{os.cpu_count()} CPUs on this machine, shared with the load generator", flush=True)
            print("| round | followers | lines/s | seconds | median ms | p99 ms | lost | lag notices "
                  "| undelivered at deadline | unfinished followers | failed followers | server peak RSS MiB "
                  "| server CPU s | server CPU µs per delivered line |")
            print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
            with started(argv, env, f"{base}/healthz", folder / "server.log") as server:
                for kind, job_id in zip(kinds, job_ids, strict=True):
                    _round(kind, args, base, key, job_id, server, env)


def _seed_main(rounds: int) -> None:
    from server.config import Settings
    from server.crypto.stored import secrets_at_rest
    from server.db import database

    async def main() -> None:
        settings = Settings.from_env()
        async with database(settings.database_url), secrets_at_rest(settings):
            key, jobs = await _seed(rounds)
        print(key, *jobs)

    asyncio.run(main())


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "seed":
        _seed_main(int(sys.argv[2]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "write":
        write(int(sys.argv[2]), float(sys.argv[3]), sys.argv[4])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve(int(sys.argv[2]), float(sys.argv[3]), sys.argv[4:])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", help="a PostgreSQL server URL: the bench creates (and drops) its own database")
    parser.add_argument("--subscribers", type=int, default=1_000, help="followers in each round")
    parser.add_argument("--rate", type=int, default=1_000, help="log lines written a second")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long the job writes")
    parser.add_argument("--workers", type=int, default=1,
                        help="server processes (DOCC_WORKERS, with --postgres only); the writer is then a process "
                             "of its own")
    parser.add_argument("--loaders", type=int, default=1, help="load generator processes")
    parser.add_argument("--rounds", default="ws,sse", help="which rounds, in order: ws, sse")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds between the followers' start and "
                                                                     "the first line (they subscribe meanwhile)")
    parser.add_argument("--deadline", type=float, default=120.0,
                        help="seconds after the writer stops to wait for the followers")
    args = parser.parse_args()
    if args.workers > 1 and not args.postgres:
        parser.error("--workers needs --postgres: the processes share events through PostgreSQL")
    run(args)


if __name__ == "__main__":
    main()
