"""The parent side of a job's process: start it from a forkserver, relay its messages, enforce its limits.

One process per job, forked from a server process that imported Polars and the data plane once, so
a start costs milliseconds. The child's messages are JSON, checked here before anything is recorded:
a child that crashed in native code (or worse) can fail its own job, never reach the parent.
A watchdog reads the child's resident memory (/proc/<pid>/statm) and its age every tick; crossing
either limit, or ignoring a cancel for the grace period, gets it SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import orjson

from server.engine import child, forkserver
from server.engine.dataplane import StepStats
from server.engine.forkserver import JobProcess

log = logging.getLogger("docc.engine")

LEVELS = frozenset({"debug", "info", "warning", "error"})
MAX_MESSAGE_BYTES = 1 << 20
MAX_LOG_CHARS = 8_000
TICK_SECONDS = 0.1


class ProtocolError(Exception):
    """The child sent something that is not one of its messages."""


@dataclass(frozen=True)
class Limits:
    """What one job's process may use."""

    memory_mb: int = 4096
    timeout_seconds: float = 3600.0
    cancel_grace_seconds: float = 10.0


@dataclass(frozen=True)
class Outcome:
    """How the run ended: `succeeded`, `cancelled` or `failed` (with the job's error)."""

    status: str
    error: str | None = None


def _seconds(value: float) -> str:
    return f"{value:g}"


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _count(value: Any) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0)


def parse_message(raw: bytes, step_ids: set[str]) -> tuple[Any, ...]:
    """Check one message of the child and turn it into an event; raises ProtocolError."""
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ProtocolError("not JSON") from None
    if not isinstance(message, list) or not message:
        raise ProtocolError("not a message")
    kind, args = message[0], message[1:]
    step = args[0] if args else None
    if kind == "start" and len(args) == 1 and step in step_ids:
        return ("start", step)
    if kind == "end" and len(args) == 5 and step in step_ids and _count(args[1]) and _count(args[2]) \
            and _number(args[3]) and (args[4] is None or isinstance(args[4], str)):
        error = args[4][:MAX_LOG_CHARS] if args[4] is not None else None
        return ("end", step, StepStats(args[1], args[2], float(args[3]), error))
    if kind == "log" and len(args) == 3 and args[0] in LEVELS and (args[1] is None or args[1] in step_ids) \
            and isinstance(args[2], str):
        return ("log", args[0], args[1], args[2][:MAX_LOG_CHARS])
    if kind == "prepared" and len(args) == 1 and _records(step, step_ids):
        return ("prepared", [{"step": r["step"], "kind": r["kind"], "name": r["name"]} for r in step])
    if kind == "released" and len(args) == 2 and step in step_ids and isinstance(args[1], bool):
        return ("released", step, args[1])
    if kind == "quality" and len(args) == 3 and step in step_ids and isinstance(args[1], int) \
            and not isinstance(args[1], bool) and 0 <= args[1] < 1_000 and isinstance(args[2], dict):
        return ("quality", step, args[1], args[2])
    if kind == "progress" and len(args) == 1 and _number(step):
        return ("progress", float(step))
    if kind == "result" and len(args) == 3 and step in _RESULTS and (args[1] is None or args[1] in step_ids) \
            and (args[2] is None or isinstance(args[2], str)):
        return ("result", step, args[1], args[2][:MAX_LOG_CHARS] if args[2] else args[2])
    raise ProtocolError(f"unexpected {str(kind)[:20]!r} message")


def _records(value: Any, step_ids: set[str]) -> bool:
    """A list of staged writes: each names one of the job's steps, once, and a short staged name."""
    if not isinstance(value, list) or len(value) > len(step_ids):
        return False
    steps = [r.get("step") for r in value if isinstance(r, dict)]
    return len(steps) == len(value) == len(set(steps)) and all(
        r.get("step") in step_ids and r.get("kind") in ("file", "table") and isinstance(r.get("name"), str)
        and 0 < len(r["name"]) <= 300 for r in value)


_RESULTS = frozenset({"succeeded", "cancelled", "step_failed", "config_error", "memory", "internal"})


def resident_bytes(pid: int) -> int | None:
    """The process's resident memory, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return None


def stderr_tail(temp_dir: str | None, size: int = 65_536) -> str:
    """The end of what the child wrote to stderr (a native crash leaves its reason there)."""
    if not temp_dir:
        return ""
    try:
        with open(os.path.join(temp_dir, child.STDERR_FILE), "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(handle.tell() - size, 0))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


class ChildRun:
    """One job's process from start to exit; `on_event` gets its checked messages, from a reader thread."""

    def __init__(self, plan: child.JobPlan, limits: Limits, on_event: Callable[..., None],
                 cancel: threading.Event, body: child.Body | None = None) -> None:
        self.plan, self.limits, self.on_event, self.cancel, self.body = plan, limits, on_event, cancel, body
        self.step_ids = plan.step_ids()
        self.result: tuple[Any, ...] | None = None
        self.protocol_error: str | None = None
        self.killed: str | None = None  # why the parent killed it: memory, timeout, cancel, protocol, stop
        self.process: multiprocessing.process.BaseProcess | None = None
        self.exitcode: int | None = None
        self.pid: int | None = None
        self.conn: Connection | None = None
        # Set once the parent told the child to publish: from then on a cancel no longer stops it.
        self.publishing = False

    def decide(self, publish: bool) -> None:
        """Answer the child's "prepared": publish its staged writes, or discard them."""
        self.publishing = publish
        if self.conn is not None:
            with contextlib.suppress(OSError, ValueError):
                self.conn.send_bytes(child.PUBLISH if publish else child.DISCARD)

    def kill(self, reason: str = "stop") -> None:
        """SIGKILL the child (idempotent); `reason` decides the job's error."""
        process = self.process
        if process is None or process.exitcode is not None:
            return
        self.killed = self.killed or reason
        with contextlib.suppress(OSError, ValueError):
            process.kill()

    async def run(self) -> Outcome:
        """Run the child to its end and say how the job ended; the child never outlives this call."""
        # The forkserver is the child's parent: it is not stopped for idleness while this runs.
        with forkserver.in_use():
            return await self._run()

    async def _run(self) -> Outcome:
        await asyncio.to_thread(forkserver.start_forkserver)
        parent_conn, child_conn = multiprocessing.Pipe(duplex=True)
        process = JobProcess(target=child.main, args=(self.plan, child_conn, self.body),
                             name=f"docc-job-{self.plan.job_id}", daemon=True)
        try:
            await asyncio.to_thread(process.start)
        finally:
            child_conn.close()
        self.process, self.pid, self.conn = process, process.pid, parent_conn
        reader_done = asyncio.Event()
        loop = asyncio.get_running_loop()
        reader = threading.Thread(target=self._read, args=(parent_conn, loop, reader_done),
                                  name=f"docc-job-reader-{self.plan.job_id}", daemon=True)
        reader.start()
        try:
            await self._supervise(process, parent_conn)
        finally:
            self.kill()
            await asyncio.to_thread(process.join)
            self.exitcode = process.exitcode
            await self._finish_reader(parent_conn, reader_done)
            # A stopping server may still ask this run to kill: with no process left, that is a no-op.
            self.conn, self.process = None, None
            parent_conn.close()
            process.close()
        return self._outcome()

    def _read(self, conn: Connection, loop: asyncio.AbstractEventLoop, done: asyncio.Event) -> None:
        try:
            while True:
                event = parse_message(conn.recv_bytes(MAX_MESSAGE_BYTES), self.step_ids)
                if event[0] == "result":
                    self.result = event
                else:
                    self.on_event(*event)
        except (EOFError, OSError, RuntimeError):
            pass  # The child is gone, its end was shut down, or the loop is closing.
        except ProtocolError as exc:
            self.protocol_error = str(exc)
        finally:
            with contextlib.suppress(RuntimeError):  # The loop may be closing.
                loop.call_soon_threadsafe(done.set)

    async def _supervise(self, process: multiprocessing.process.BaseProcess, conn: Connection) -> None:
        loop = asyncio.get_running_loop()
        exited = asyncio.Event()
        loop.add_reader(process.sentinel, exited.set)
        started = loop.time()
        grace_ends: float | None = None
        limit = self.limits.memory_mb << 20
        try:
            while not exited.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(exited.wait(), TICK_SECONDS)
                now = loop.time()
                if self.protocol_error:
                    self.kill("protocol")
                elif (resident_bytes(process.pid or 0) or 0) > limit:
                    self.kill("memory")
                elif now - started > self.limits.timeout_seconds:
                    self.kill("timeout")
                elif self.publishing:
                    continue  # Publishing is COMMITs and renames: a cancel now would leave it half done.
                elif grace_ends is None and self.cancel.is_set():
                    grace_ends = now + self.limits.cancel_grace_seconds
                    with contextlib.suppress(OSError, ValueError):
                        conn.send_bytes(child.CANCEL)
                elif grace_ends is not None and now > grace_ends:
                    self.kill("cancel")
        finally:
            loop.remove_reader(process.sentinel)

    async def _finish_reader(self, conn: Connection, done: asyncio.Event) -> None:
        # The pipe ends when the child does, unless something it started still holds its end: then cut it.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), 2.0)
            return
        with contextlib.suppress(OSError), socket.socket(fileno=os.dup(conn.fileno())) as sock:
            sock.shutdown(socket.SHUT_RDWR)
        await done.wait()

    def _outcome(self) -> Outcome:
        limits = self.limits
        if self.result is not None and self.killed != "protocol":
            return self._reported(self.result)  # It finished; a kill only met its exit.
        if self.killed == "memory":
            return Outcome("failed", f"exceeded the memory limit of {limits.memory_mb} MB")
        if self.killed == "timeout":
            return Outcome("failed", f"exceeded the time limit of {_seconds(limits.timeout_seconds)} s")
        if self.killed in ("cancel", "stop"):
            return Outcome("cancelled")
        if self.killed == "protocol":
            log.warning("Job %s: its process sent an invalid message (%s)", self.plan.job_id, self.protocol_error,
                        extra={"job_id": self.plan.job_id})
            return Outcome("failed", "the job's process sent an invalid message and was stopped")
        return self._crashed()

    def _reported(self, result: tuple[Any, ...]) -> Outcome:
        _, kind, step_id, message = result
        if kind == "succeeded":
            return Outcome("succeeded")
        if kind == "cancelled":
            return Outcome("cancelled")
        if kind == "step_failed":
            return Outcome("failed", f"step {step_id!r} failed: {message}")
        if kind == "config_error":
            return Outcome("failed", f"invalid pipeline: {message}")
        if kind == "memory":
            return Outcome("failed", f"exceeded the memory limit of {self.limits.memory_mb} MB")
        self._log_stderr("failed unexpectedly")
        return Outcome("failed", "internal error while running the job")

    def _crashed(self) -> Outcome:
        code = self.exitcode
        tail = self._log_stderr(f"ended without a result (exit code {code})")
        if "memory allocation of" in tail or "MemoryError" in tail:
            return Outcome("failed", f"exceeded the memory limit of {self.limits.memory_mb} MB")
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return Outcome("failed", f"the job's process crashed ({name}); the server is unaffected")
        return Outcome("failed", f"the job's process exited unexpectedly (exit code {code})")

    def _log_stderr(self, what: str) -> str:
        # A native abort prints its reason first and then a long backtrace: read far enough back to find it.
        tail = stderr_tail(self.plan.temp_dir)
        shown = tail[-2_000:]
        log.warning("Job %s: its process %s%s", self.plan.job_id, what,
                    f"; last output:\n{shown}" if shown.strip() else "", extra={"job_id": self.plan.job_id})
        return tail
