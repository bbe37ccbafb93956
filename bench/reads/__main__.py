"""Read bench: the server on a seeded scratch database against a bare aiohttp ceiling, under wrk.

    python -m bench.reads [--postgres postgres://postgres@127.0.0.1:5432/postgres] [--workers 1 2]
                          [--seconds 5] [--connections 16] [--soak 300] [--cases rest_list rest_get ...]

Seeds 1,000 datasets (8-field schemas, tags), 200 pipelines and 10,000 jobs (steps, logs) into a new
SQLite file, or a new PostgreSQL database on the given server (dropped at the end); starts
`python -m server` on it with every rate limit raised (DOCC_WORKERS=N processes for each --workers);
records each case's answer and serves those same bytes from a bare aiohttp app in its own process
(the ceiling); then loads each case with wrk (-t1, from its own process), the server first and the
ceiling right after, and prints requests/s, median and 99th-percentile latency, the server's peak
resident memory (all its processes), and each figure's ratio to the ceiling. `--soak N` then loads the
list cases for N seconds and prints the memory every 30 s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

from bench.reads.cases import LABELS, Case, build_cases, record
from bench.reads.processes import (
    MemoryWatch,
    base_env,
    cpu_seconds,
    free_port,
    memory_by_role,
    python,
    scratch_database,
    settled_memory,
    started,
    wait_http,
)
from bench.reads.wrk import Figures, ensure_wrk, run_wrk

HEADER = ("| case | req/s | p50 ms | p99 ms | errors | peak RSS MiB | ceiling req/s | ratio "
          "| CPU ms/req | ceiling CPU ms/req | CPU ratio |\n"
          "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")


def _load(base: str, case: Case, key: str | None, args: argparse.Namespace, path: str | None = None) -> Figures:
    headers = dict(case.headers)
    if key:
        headers["Authorization"] = f"Bearer {key}"
    # A run's creates carry its own stamp, so a later run (more workers) on the same database makes new names.
    stamp = f"{time.time_ns()}_@N@"
    body = case.body.replace("@N@", stamp) if case.unique and case.body else case.body
    write = (case.write[0], case.write[1].replace("@N@", stamp)) if case.write and key else None
    return run_wrk(base + (path or case.path), method=case.method, headers=headers, body=body,
                   unique=case.unique and key is not None, seconds=args.seconds, connections=args.connections,
                   write=write)


def _soak(base: str, cases: list[Case], key: str, pid: int, args: argparse.Namespace) -> None:
    watch = MemoryWatch(pid)
    print(f"\nSoak: {args.soak} s alternating the REST and GraphQL lists; resident memory of the server")
    start = watch.now()
    print(f"  t=0 s: {start:.0f} MiB")
    mix = [case for case in cases if case.name in ("rest_list", "gql_list", "rest_jobs")]
    elapsed, turn = 0, 0
    while elapsed < args.soak:
        figures = run_wrk(base + mix[turn % len(mix)].path, method=mix[turn % len(mix)].method,
                          headers={**mix[turn % len(mix)].headers, "Authorization": f"Bearer {key}"},
                          body=mix[turn % len(mix)].body, seconds=30, connections=args.connections)
        elapsed, turn = elapsed + 30, turn + 1
        print(f"  t={elapsed} s: {watch.now():.0f} MiB ({mix[(turn - 1) % len(mix)].name}, "
              f"{figures.rps:.0f} req/s, {figures.errors} errors)")


def _measure(base: str, ceiling_base: str, case: Case, key: str, server_pid: int, ceiling_pid: int,
             args: argparse.Namespace) -> tuple[Figures, Figures, float, float, float]:
    """One case against the server, then against the ceiling: figures, CPU ms per request of each, peak RSS."""
    spent = cpu_seconds(server_pid)
    with MemoryWatch(server_pid) as watch:
        figures = _load(base, case, key, args)
    cpu = 1000 * (cpu_seconds(server_pid) - spent) / max(1, figures.requests)
    spent = cpu_seconds(ceiling_pid)
    ceiling = _load(ceiling_base, case, None, args, f"/{case.name}")
    ceiling_cpu = 1000 * (cpu_seconds(ceiling_pid) - spent) / max(1, ceiling.requests)
    return figures, ceiling, cpu, ceiling_cpu, watch.peak()


def _table(base: str, key: str, server_pid: int, folder: Path, args: argparse.Namespace) -> None:
    every = build_cases(base, key)
    cases = [case for case in every if not args.cases or case.name in args.cases]
    seen = record(base, key, cases, folder / "bodies")
    idle, proportional = settled_memory(server_pid)
    roles = memory_by_role(server_pid)
    ceiling_port = free_port()
    ceiling_base = f"http://127.0.0.1:{ceiling_port}"
    with started(python("bench.reads.ceiling", str(ceiling_port), str(folder / "bodies")), dict(os.environ),
                 f"{ceiling_base}/{cases[0].name}", folder / "ceiling.log") as ceiling_process:
        print(f"\n{args.current_workers} server process(es); idle resident memory, once settled, {idle:.0f} MiB "
              f"({roles} MiB; {proportional:.0f} MiB proportional, shared pages counted once); "
              f"wrk -t1 -c{args.connections} -d{args.seconds}s")
        print(HEADER)
        rps: dict[str, float] = {}
        cpus: dict[str, float] = {}
        ceilings: dict[str, float] = {}
        for case in cases:
            wait_http(f"{base}/healthz")
            figures, ceiling, cpu, ceiling_cpu, peak = _measure(base, ceiling_base, case, key, server_pid,
                                                                 ceiling_process.pid, args)
            rps[case.name], cpus[case.name], ceilings[case.name] = figures.rps, cpu, ceiling_cpu
            label = LABELS[case.name] + (f" ({seen[case.name]['status']})" if case.name == "rest_list_304" else "")
            print(f"| {label} | {figures.rps:,.0f} | {figures.p50_ms:.1f} | {figures.p99_ms:.1f} | {figures.errors} "
                  f"| {peak:.0f} | {ceiling.rps:,.0f} | {figures.rps / ceiling.rps:.3f} | {cpu:.2f} "
                  f"| {ceiling_cpu:.3f} | {ceiling_cpu / cpu if cpu else 0:.3f} |", flush=True)
    if {"gql_list", "rest_list", "gql_one", "rest_get"} <= rps.keys():
        print(f"GraphQL list page / REST list: {rps['gql_list'] / rps['rest_list']:.2f} by req/s, "
              f"{cpus['rest_list'] / cpus['gql_list']:.2f} by CPU per request; GraphQL one field / REST get: "
              f"{rps['gql_one'] / rps['rest_get']:.2f} by req/s, {cpus['rest_get'] / cpus['gql_one']:.2f} by CPU")
    if {"rest_list_written", "rest_create", "rest_list"} <= cpus.keys():
        # wrk counts both requests of a pair: the read alone is the pair's CPU less a create's, from this run.
        alone = 2 * cpus["rest_list_written"] - cpus["rest_create"]
        print(f"List read right after a create, alone (the pair's CPU less the create case's): {alone:.2f} ms of CPU, "
              f"{ceilings['rest_list'] / alone if alone > 0 else 0:.3f} of the list's ceiling")
    if args.soak:
        _soak(base, every, key, server_pid, args)


def run(args: argparse.Namespace) -> None:
    ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="docc-bench-") as scratch:
        folder = Path(scratch)
        with scratch_database(args.postgres, folder) as database_url:
            port = free_port()
            env = base_env(database_url, folder, port)
            print(f"Database: {'PostgreSQL' if args.postgres else 'SQLite'}; seeding...", flush=True)
            seeded = subprocess.run(python("bench.reads.seed"), env=env, capture_output=True, text=True, check=True)
            key = seeded.stdout.strip().splitlines()[-1]
            base = f"http://127.0.0.1:{port}"
            if args.api_only:  # the API processes of a deployment whose jobs run on worker processes
                env.update(DOCC_RUN_JOBS="false", DOCC_RUN_SCHEDULES="false")
            env["DOCC_JOB_FORKSERVER"] = args.forkserver
            for workers in args.workers:
                env["DOCC_WORKERS"] = args.current_workers = str(workers)
                with started(python("server"), env, f"{base}/healthz", folder / f"server-{workers}.log") as server:
                    _table(base, key, server.pid, folder, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", help="a PostgreSQL server URL: the bench creates (and drops) its own database")
    parser.add_argument("--workers", type=int, nargs="+", default=[1], help="server processes (DOCC_WORKERS)")
    parser.add_argument("--seconds", type=int, default=5, help="wrk duration of each case")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--cases", nargs="+", choices=sorted(LABELS), metavar="CASE",
                        help="only these cases (default: all): " + ", ".join(LABELS))
    parser.add_argument("--soak", type=int, default=0, help="then load the lists this long (s), showing memory")
    parser.add_argument("--api-only", action="store_true",
                        help="DOCC_RUN_JOBS=false DOCC_RUN_SCHEDULES=false: no job forkserver in the server's tree")
    parser.add_argument("--forkserver", choices=["on-demand", "always"], default="on-demand",
                        help="DOCC_JOB_FORKSERVER: always holds the job forkserver (the data plane) from start-up")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
