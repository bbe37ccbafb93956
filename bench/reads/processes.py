"""The bench's processes: the server under test, the ceiling app, their memory, and scratch databases."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            found += [int(child) for child in task.read_text().split()]
    return found


def tree(pid: int) -> list[int]:
    """`pid` and every process below it."""
    pids, queue = [], [pid]
    while queue:
        current = queue.pop()
        pids.append(current)
        queue += _children(current)
    return pids


def rss_mib(pid: int) -> float:
    """Resident memory of one process, in MiB (0 once it is gone)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def pss_mib(pid: int) -> float:
    """Proportional memory of one process, in MiB: each page shared with other processes counted as its share,
    so a tree's sum counts shared pages (libraries, copy-on-write after a fork) once (0 once it is gone)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    return 0.0


def settled_memory(pid: int, steady_seconds: float = 3.0, limit_seconds: float = 60.0) -> tuple[float, float]:
    """The tree's resident and proportional memory once it stopped moving (within 1 MiB for `steady_seconds`):
    the job forkserver imports the data plane in the background after start-up, which an earlier reading
    would miss."""
    deadline, last, since = time.monotonic() + limit_seconds, -1.0, time.monotonic()
    while time.monotonic() < deadline:
        now = sum(rss_mib(member) for member in tree(pid))
        if abs(now - last) > 1.0:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= steady_seconds:
            break
        time.sleep(0.25)
    return sum(rss_mib(member) for member in tree(pid)), sum(pss_mib(member) for member in tree(pid))


def memory_by_role(pid: int) -> str:
    """Resident memory of each process of the tree, named by role: the API processes first."""
    parts = []
    for member in tree(pid):
        with contextlib.suppress(OSError):
            command = Path(f"/proc/{member}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            role = "forkserver" if "forkserver" in command else "tracker" if "resource_tracker" in command \
                else "api" if member != pid or not _children_are_servers(pid) else "supervisor"
            parts.append(f"{role} {rss_mib(member):.0f}")
    return ", ".join(parts)


def _children_are_servers(pid: int) -> bool:
    return any(b"-m server" in Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
               for child in _children(pid) if Path(f"/proc/{child}/cmdline").exists())


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process tree has used so far (exited children not counted)."""
    total = 0
    for member in tree(pid):
        with contextlib.suppress(OSError, IndexError):
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


class MemoryWatch:
    """Samples the resident memory of a process tree every 50 ms; `peak()` is the largest sum seen."""

    def __init__(self, pid: int) -> None:
        self.pid, self._peak, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def now(self) -> float:
        return sum(rss_mib(pid) for pid in tree(self.pid))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, self.now())
            time.sleep(0.05)

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def peak(self) -> float:
        return self._peak


def wait_http(url: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.1)


@contextlib.contextmanager
def started(argv: list[str], env: dict[str, str], ready_url: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run a process until the block ends; it is ready once `ready_url` answers 200."""
    with log.open("ab") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=out)
    try:
        wait_http(ready_url)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def python(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


@contextlib.contextmanager
def scratch_database(postgres_url: str | None, folder: Path) -> Iterator[str]:
    """A database URL for one bench run: a new SQLite file, or a new PostgreSQL database dropped after."""
    if not postgres_url:
        yield f"sqlite://{folder / 'docc.db'}"
        return
    import asyncio

    import asyncpg

    parts = urlsplit(postgres_url)
    name = f"docc_bench_{secrets.token_hex(4)}"
    admin = urlunsplit(parts._replace(scheme="postgresql"))

    async def run(statement: str) -> None:
        connection = await asyncpg.connect(admin)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def base_env(database_url: str, folder: Path, port: int) -> dict[str, str]:
    """The server's settings for the bench: its scratch database, a fresh secret key, no rate limit in the way."""
    from cryptography.fernet import Fernet

    env = {key: value for key, value in os.environ.items() if not key.startswith("DOCC_")}
    env.update({
        "DOCC_DATABASE_URL": database_url,
        "DOCC_SECRET_KEY": Fernet.generate_key().decode(),
        "DOCC_DATA_DIR": str(folder / "data"),
        "DOCC_PORT": str(port),
        # The bench measures the server, not the limiter refusing it: every budget far above what wrk sends.
        "DOCC_RATE_LIMIT_PER_MINUTE": "1000000000",
        "DOCC_RATE_LIMIT_BULK_PER_MINUTE": "1000000000",
        "DOCC_RATE_LIMIT_AUTH_PER_MINUTE": "1000000000",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    })
    return env
