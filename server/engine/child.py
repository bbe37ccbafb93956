"""The process that runs one job's data steps: it gets a plan, never the server's database, and reports back.

The parent (server.engine.sandbox) starts this from a forkserver that has Polars and the data plane
imported already. Everything the run needs is in the `JobPlan`; everything it does goes back over
one pipe as small JSON messages, which the parent validates and records. The process dies with its
parent, holds no DOCC_* variable, and cannot grow past its memory backstop.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing import forkserver
from multiprocessing.connection import Connection
from typing import Any

import orjson

from server.engine.dataplane import (
    Cancelled,
    DataPlaneConfigError,
    Policy,
    RunContext,
    RunResult,
    StepFailed,
    StepStats,
)

# The parent's messages to the child: stop, or its answer once the child has staged every write.
CANCEL = b"cancel"
PUBLISH = b"publish"
DISCARD = b"discard"
STDERR_FILE = "stderr.log"
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class JobPlan:
    """Everything one run needs, resolved by the parent: plain data, so it pickles."""

    job_id: str
    steps: list[dict[str, Any]]
    datasets: dict[str, tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=dict)
    connections: dict[str, str] = field(default_factory=dict)
    # What the data plane may touch: file roots, protected files, the server's own database, allowed hosts.
    policy: Policy = field(default_factory=lambda: Policy(file_roots=()))
    memory_mb: int = 4096
    temp_dir: str | None = None
    # Names what this attempt stages: `<job id hex>_<attempt>`.
    job_key: str = ""
    # `run` the steps; or finish what an earlier run left: `publish` the `staged` writes, or `discard` them.
    action: str = "run"
    staged: list[dict[str, str]] = field(default_factory=list)

    def step_ids(self) -> set[str]:
        """The ids a step message may name."""
        return {step["id"] for step in self.steps if isinstance(step, dict) and isinstance(step.get("id"), str)}


# What runs the steps inside the child; tests substitute one that crashes, hangs or grows.
Body = Callable[[JobPlan, RunContext], RunResult]


def run_plan(plan: JobPlan, ctx: RunContext) -> RunResult:
    """The production body: the data plane over the plan's resolved datasets and connections."""
    # Imported here: the forkserver has them loaded; the server, which only names this body, never runs it.
    from server.engine.dataplane import MappingResolver, execute_steps, settle_staged

    resolver = MappingResolver(dict(plan.datasets), dict(plan.connections))
    if plan.action == "run":
        return execute_steps(plan.steps, resolver, ctx, plan.policy)
    publish = {item["step"]: item["name"] for item in plan.staged} if plan.action == "publish" else None
    settle_staged(plan.steps, resolver, ctx, plan.policy, plan.job_key, publish)
    return RunResult({}, 0.0)


def backstop_bytes(memory_mb: int) -> int:
    """What a job may reserve beyond its start: a quarter above the limit, so the watchdog (clear error) fires first."""
    return (memory_mb + memory_mb // 4) << 20


def reserved_bytes() -> int:
    """This process's private writable memory (VmData), what RLIMIT_DATA counts; 0 if unknown."""
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmData:"):
                    return int(line.split()[1]) << 10
    except (OSError, ValueError, IndexError):
        pass
    return 0


class Channel:
    """The child's end of the pipe; Polars calls back from its own threads, so sends are serialised."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._lock = threading.Lock()

    def send(self, *message: Any) -> None:
        data = orjson.dumps(message)
        with self._lock:
            self.conn.send_bytes(data)


# The parent reads messages up to 1 MiB; an outcome whose sample would not fit goes without its sample.
MAX_QUALITY_MESSAGE_BYTES = 900_000


def quality_message(step_id: str, index: int, outcome: dict[str, Any]) -> tuple[Any, ...]:
    """The message for one check's outcome in a quality_check step, small enough for the pipe."""
    message = ("quality", step_id, index, outcome)
    if len(orjson.dumps(message, default=str)) > MAX_QUALITY_MESSAGE_BYTES:
        message = ("quality", step_id, index, {**outcome, "sample": []})
    return orjson.loads(orjson.dumps(message, default=str))


def _die_with_parent() -> None:
    # The forkserver is our parent: when it goes (it exits when the server does), so do we.
    parent = os.getppid()
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # It died before the signal was armed.
        os._exit(70)
    # Holding the forkserver's "alive" pipe would keep it running after the server died.
    alive = getattr(forkserver._forkserver, "_forkserver_alive_fd", None)
    if alive is not None:
        with contextlib.suppress(OSError):
            os.close(alive)
        forkserver._forkserver._forkserver_alive_fd = None


def _isolate(plan: JobPlan) -> None:
    """Cut what the job does not need: the server's settings, Ctrl-C of the terminal, unbounded memory."""
    for name in [name for name in os.environ if name.startswith("DOCC_")]:
        del os.environ[name]
    # The parent decides when a job stops (cancel, limits, shutdown); a terminal's SIGINT is not ours.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # RLIMIT_DATA, not RLIMIT_AS: allocators reserve address space far beyond use. Even RLIMIT_DATA counts
    # the reservations made at import (Arrow's memory pool alone reserves about 1 GB it never touches), so
    # the backstop is measured from here: the job may add a quarter more than its limit.
    limit = reserved_bytes() + backstop_bytes(plan.memory_mb)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    if plan.temp_dir:
        # Native crashes (a failed allocation, a stack overflow) write here; the parent reads the tail.
        fd = os.open(os.path.join(plan.temp_dir, STDERR_FILE), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(fd, 2)
        os.close(fd)


@dataclass
class Decision:
    """The parent's answer to "every write is staged": set once, PUBLISH or DISCARD."""

    made: threading.Event = field(default_factory=threading.Event)
    publish: bool = False


def _watch_parent(conn: Connection, cancel: threading.Event, decision: Decision) -> None:
    """Set `cancel` or the decision when the parent says; end the process when the parent is gone."""
    while True:
        try:
            message = conn.recv_bytes(64)
        except (EOFError, OSError):
            os._exit(70)
        if message == CANCEL:
            cancel.set()
        elif message in (PUBLISH, DISCARD):
            decision.publish = message == PUBLISH
            decision.made.set()


def _ask_parent(channel: Channel, cancel: threading.Event,
                decision: Decision) -> Callable[[list[dict[str, Any]]], bool]:
    """The run's `prepare`: tell the parent what is staged, then wait for it to record the plan and answer."""

    def prepare(records: list[dict[str, Any]]) -> bool:
        channel.send("prepared", records)
        # A cancel while waiting is a no: the parent answers DISCARD too, but need not be waited for.
        while not decision.made.wait(0.05):
            if cancel.is_set():
                return False
        return decision.publish

    return prepare


def _result(body: Body, plan: JobPlan, ctx: RunContext) -> tuple[Any, ...]:
    try:
        body(plan, ctx)
    except Cancelled:
        return ("result", "cancelled", None, None)
    except StepFailed as exc:
        return ("result", "step_failed", exc.step_id, exc.message)
    except DataPlaneConfigError as exc:
        return ("result", "config_error", None, exc.message)
    except MemoryError:
        return ("result", "memory", None, None)
    except Exception:
        traceback.print_exc()
        return ("result", "internal", None, None)
    return ("result", "succeeded", None, None)


def main(plan: JobPlan, conn: Connection, body: Body | None = None) -> None:
    """The process target: isolate, run the body, report every callback and the outcome to the parent."""
    _die_with_parent()
    cancel, decision = threading.Event(), Decision()
    # Started before the memory backstop is set, so that a thread stack never counts against the job.
    threading.Thread(target=_watch_parent, args=(conn, cancel, decision), name="docc-parent", daemon=True).start()
    _isolate(plan)
    channel = Channel(conn)

    def step_end(step_id: str, stats: StepStats) -> None:
        channel.send("end", step_id, stats.rows_in, stats.rows_out, stats.duration_s, stats.error)

    ctx = RunContext(cancel=cancel, on_step_start=lambda sid: channel.send("start", sid), on_step_end=step_end,
                     log=lambda level, sid, message: channel.send("log", level, sid, message),
                     on_progress=lambda fraction: channel.send("progress", fraction), temp_dir=plan.temp_dir,
                     prepare=_ask_parent(channel, cancel, decision),
                     on_released=lambda step_id, published: channel.send("released", step_id, published),
                     on_quality=lambda step_id, index, outcome: channel.send(*quality_message(step_id, index, outcome)))
    if plan.job_key:
        ctx.job_key = plan.job_key
    outcome = _result(body or run_plan, plan, ctx)
    sys.stderr.flush()
    channel.send(*outcome)
