"""DOCC_WORKERS: several server processes on one port, sharing one PostgreSQL database."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from server.config import Settings, SettingsError

ROOT = Path(__file__).resolve().parents[2]


def test_several_workers_need_postgresql():
    # when / then
    with pytest.raises(SettingsError, match="DOCC_WORKERS above 1 needs PostgreSQL"):
        Settings.from_env({"DOCC_WORKERS": "2", "DOCC_DATABASE_URL": "sqlite://./x.db"})
    with pytest.raises(SettingsError, match="DOCC_WORKERS must be at least 1"):
        Settings.from_env({"DOCC_WORKERS": "0"})
    assert Settings.from_env({"DOCC_WORKERS": "3", "DOCC_DATABASE_URL": "postgres://u@h/db"}).workers == 3


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _children(pid: int) -> list[int]:
    return [int(child) for task in Path(f"/proc/{pid}/task").iterdir()
            for child in (task / "children").read_text().split()]


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as answer:
        return answer.status, json.loads(answer.read())


def _wait_ready(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if _get(url)[0] == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"server not ready; exit code {process.poll()}")


def _run_two_workers(database_url: str, folder: Path, key: str) -> tuple[list[int], list[tuple[int, dict]], int]:
    """Start two processes on one port, write through one connection and read through many, then SIGTERM."""
    port = _port()
    env = {**os.environ, "DOCC_DATABASE_URL": database_url, "DOCC_PORT": str(port), "DOCC_WORKERS": "2",
           "DOCC_SECRET_KEY_FILE": str(folder / "docc.key"), "DOCC_DATA_DIR": str(folder / "data"),
           "DOCC_FILE_ROOTS": str(folder), "DOCC_RUN_SCHEDULES": "false", "PYTHONPATH": str(ROOT)}
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "server"], env=env, cwd=folder,
                               stdout=subprocess.DEVNULL, stderr=log)
    try:
        _wait_ready(f"http://127.0.0.1:{port}/healthz", process)
        workers = _children(process.pid)
        body = json.dumps({"name": "shared", "source": {"type": "file", "path": str(folder / "x.csv"),
                                                        "format": "csv"}})
        auth = {"Authorization": f"Bearer {key}"}
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/datasets", data=body.encode(),
                                         headers={**auth, "Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=10) as answer:
            created = json.loads(answer.read())
        reads = [_get(f"http://127.0.0.1:{port}/api/v1/datasets/{created['id']}", auth) for _ in range(20)]
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(60)
        log.close()
    gone = [pid for pid in workers if not Path(f"/proc/{pid}").exists()]
    return workers, reads, code if len(gone) == len(workers) else -1


async def test_two_processes_serve_one_port_and_stop_together(database_url, tmp_path, credentials):
    if not database_url.startswith("postgres"):
        pytest.skip("several processes share a PostgreSQL database")
    # when: a dataset is created through one connection and read back through twenty others
    workers, reads, code = await asyncio.to_thread(_run_two_workers, database_url, tmp_path, credentials["admin"])
    # then: two server processes answered as one, every read saw the write, and SIGTERM stopped them all
    assert len(workers) == 2
    assert all(status == 200 and found["name"] == "shared" for status, found in reads)
    assert code == 0, (tmp_path / "server.log").read_text()[-4000:]


def _stop_at_once(database_url: str, folder: Path) -> tuple[int, str]:
    """Start two processes and SIGTERM the set as soon as they are forked (before they serve)."""
    env = {**os.environ, "DOCC_DATABASE_URL": database_url, "DOCC_PORT": str(_port()), "DOCC_WORKERS": "2",
           "DOCC_SECRET_KEY_FILE": str(folder / "docc.key"), "DOCC_DATA_DIR": str(folder / "data"),
           "DOCC_FILE_ROOTS": str(folder), "DOCC_RUN_SCHEDULES": "false", "PYTHONPATH": str(ROOT)}
    path = folder / "server.log"
    with path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "server"], env=env, cwd=folder,
                                   stdout=subprocess.DEVNULL, stderr=log)
        try:
            deadline = time.monotonic() + 60
            while b"Started 2 server processes" not in path.read_bytes():
                assert time.monotonic() < deadline and process.poll() is None, path.read_text()
                time.sleep(0.005)
        finally:
            process.send_signal(signal.SIGTERM)
            code = process.wait(60)
    return code, path.read_text()


async def test_a_set_stopped_while_it_starts_exits_cleanly(database_url, tmp_path):
    if not database_url.startswith("postgres"):
        pytest.skip("several processes share a PostgreSQL database")
    # when
    code, log = await asyncio.to_thread(_stop_at_once, database_url, tmp_path)
    # then: a process stopped before it set up its own handlers is a requested stop, not a failure
    assert code == 0, log[-4000:]


def _serve_set(monkeypatch, serve_one) -> int:
    """Run serve_processes with two forked copies of `serve_one`, the parent's signal handlers put back after."""
    from server import processes

    monkeypatch.setattr(processes, "_prepare", lambda settings: None)
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        settings = Settings.from_env({"DOCC_WORKERS": "2", "DOCC_DATABASE_URL": "postgres://u@h/db"})
        return processes.serve_processes(settings, serve_one)
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def test_a_process_interrupted_while_it_shuts_down_is_a_clean_stop(monkeypatch):
    from aiohttp.web_runner import GracefulExit

    def interrupted() -> None:  # what aiohttp raises when a stop signal comes during its own shutdown
        raise GracefulExit()

    # when / then
    assert _serve_set(monkeypatch, interrupted) == 0


def test_a_process_that_fails_fails_the_set(monkeypatch):
    def broken() -> None:
        raise RuntimeError("no port")

    # when / then
    assert _serve_set(monkeypatch, broken) == 1
