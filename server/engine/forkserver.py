"""The forkserver that job processes are forked from: Polars and the data plane imported once, no settings.

Why not plain `multiprocessing.get_context("forkserver").Process`: on Python 3.11 a child of the
forkserver re-runs the parent's entry script (`docc-server`, a bench script) as `__mp_main__`, which
imports the whole server again for every job (hundreds of milliseconds), although the job's target
lives in server.engine.child and needs nothing from `__main__`. `JobProcess` starts the child the
same way but without that step, so a job starts in tens of milliseconds.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from multiprocessing import forkserver, popen_forkserver, spawn
from multiprocessing.context import ForkServerProcess
from typing import Any

# Imported in the forkserver before it forks anything: the child then starts with them in memory.
# The job bodies and the engines they import when they run (the server itself imports only the bodies).
PRELOAD = ["server.engine.child", "server.engine.quality_bodies", "server.engine.dataplane.runner",
           "server.engine.dataplane.recovery", "server.engine.dataplane.quality.api", "server.engine.profiling"]
# Taken by every start, launch and stop of the forkserver.
_lock = threading.Lock()
# Job processes launched (or about to be) that may still run: the forkserver is their parent, and its exit
# kills them, so it is only stopped while this is 0. `_last_use` is when the count last went to 0.
_uses = 0
_last_use = time.monotonic()
_uses_lock = threading.Lock()


def _without_main(name: str) -> dict[str, Any]:
    """What a child needs to prepare itself, without the instruction to re-run the parent's main module."""
    data = _preparation_data(name)
    data.pop("init_main_from_path", None)
    data.pop("init_main_from_name", None)
    return data


_preparation_data = spawn.get_preparation_data


class _JobPopen(popen_forkserver.Popen):
    """The standard forkserver launch, told to skip the re-run of the parent's main module.

    The launch asks `spawn.get_preparation_data` what the child should do before unpickling its target;
    for the length of one launch (under the module lock, which every job launch takes) it gets an
    answer without the main module. Other processes of this server never launch from the forkserver.
    """

    def _launch(self, process_obj: Any) -> None:
        with _lock:
            # Started here, not by the launch's own check, if it is not running: a restart keeps the rules.
            _ensure_running()
            popen_forkserver.spawn.get_preparation_data = _without_main
            try:
                super()._launch(process_obj)
            finally:
                popen_forkserver.spawn.get_preparation_data = _preparation_data


class JobProcess(ForkServerProcess):
    """A process forked from the job forkserver."""

    @staticmethod
    def _Popen(process_obj: Any) -> _JobPopen:
        return _JobPopen(process_obj)


def start_forkserver() -> None:
    """Start the forkserver if it is not running (it imports in the background), without the DOCC_* variables.

    A process forked from it inherits its environment block as it was at exec time, visible in
    /proc/self/environ whatever the child deletes later: so the server's settings (keys, database URL)
    are kept out of the forkserver from the start. Settings were read at start-up; nothing else reads them.
    """
    with _lock:
        _ensure_running()


def _ensure_running() -> None:
    # Called with _lock held.
    forkserver.set_forkserver_preload(PRELOAD)
    hidden = {name: os.environ.pop(name) for name in list(os.environ) if name.startswith("DOCC_")}
    try:
        forkserver.ensure_running()
    finally:
        os.environ.update(hidden)


def forkserver_running() -> bool:
    """Whether this process has a forkserver (started and not stopped)."""
    return forkserver._forkserver._forkserver_pid is not None


@contextlib.contextmanager
def in_use() -> Iterator[None]:
    """Hold the forkserver for the life of one job process: enter before the launch, leave after the exit."""
    global _uses, _last_use
    with _uses_lock:
        _uses += 1
    try:
        yield
    finally:
        with _uses_lock:
            _uses -= 1
            if not _uses:
                _last_use = time.monotonic()


def stop_if_idle(idle_seconds: float) -> bool:
    """Stop the forkserver when no job process has used it for `idle_seconds`; True if it was stopped.

    It holds Polars, Arrow, ADBC and sqlglot (about 100 MiB); the next job starts it again. A launch
    that comes after the check waits for the lock and then starts a new one.
    """
    with _lock:
        with _uses_lock:
            idle = not _uses and time.monotonic() - _last_use >= idle_seconds
        if not idle or not forkserver_running():
            return False
        forkserver._forkserver._stop()
        return True
