"""Stand-ins for the data plane inside a job's process (Executor(child_body=...)): each misbehaves one way.

They run in the child, so they are module-level functions the child can import by name.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
from typing import NoReturn

from server.engine.child import JobPlan, run_plan
from server.engine.dataplane import RunContext, RunResult
from server.engine.dataplane.errors import StepFailed

HELD = "held by the test body"
PID_PREFIX = "job process pid "


def _hold_for_good(ctx: RunContext, step_id: str | None = None) -> NoReturn:
    """Say which process holds (so a test can kill it), that it holds, then never return."""
    ctx.log("info", step_id, f"{PID_PREFIX}{os.getpid()}")
    ctx.log("info", step_id, HELD)
    threading.Event().wait()
    raise AssertionError("unreachable")


def quick(_plan: JobPlan, ctx: RunContext) -> RunResult:
    """Start the first step and succeed at once."""
    ctx.on_step_start("input")
    return RunResult({}, 0.0)


def segfault(_plan: JobPlan, _ctx: RunContext) -> RunResult:
    """Read address zero: a real segmentation fault in native code."""
    ctypes.string_at(0)
    raise AssertionError("unreachable")


def kill_self(_plan: JobPlan, _ctx: RunContext) -> RunResult:
    """SIGSEGV sent to itself."""
    os.kill(os.getpid(), signal.SIGSEGV)
    threading.Event().wait()
    raise AssertionError("unreachable")


def exit_early(_plan: JobPlan, _ctx: RunContext) -> RunResult:
    """sys.exit from inside a step: the process ends with code 3 and no result."""
    sys.exit(3)


def grow(plan: JobPlan, ctx: RunContext) -> RunResult:
    """Touch as much as the job's memory limit (resident memory above it, reserved memory under the RLIMIT
    backstop), then hold it until killed."""
    ctx.log("info", None, HELD)
    held = b"\x01" * (plan.memory_mb << 20)
    threading.Event().wait()
    raise AssertionError(len(held))


def burst(plan: JobPlan, _ctx: RunContext) -> RunResult:
    """Ask for ten times the limit at once: the RLIMIT backstop refuses it before any watchdog tick."""
    held = bytearray(plan.memory_mb * 10 << 20)
    raise AssertionError(len(held))


def hang(_plan: JobPlan, ctx: RunContext) -> RunResult:
    """Never finish and never look at the cancel event."""
    ctx.log("info", None, HELD)
    threading.Event().wait()
    raise AssertionError("unreachable")


def held_in_clean(plan: JobPlan, ctx: RunContext) -> RunResult:
    """The real steps, held when the cleaner starts until the run is cancelled."""
    on_start = ctx.on_step_start

    def start(step_id: str) -> None:
        on_start(step_id)
        if step_id == "clean":
            ctx.log("info", step_id, HELD)
            ctx.cancel.wait()

    ctx.on_step_start = start
    return run_plan(plan, ctx)


def held_forever(plan: JobPlan, ctx: RunContext) -> RunResult:
    """The real steps, held for good when the cleaner starts (the process must be killed)."""
    on_start = ctx.on_step_start

    def start(step_id: str) -> None:
        on_start(step_id)
        if step_id == "clean":
            _hold_for_good(ctx, step_id)

    ctx.on_step_start = start
    return run_plan(plan, ctx)


def polars_burst(plan: JobPlan, _ctx: RunContext) -> RunResult:
    """Ask Polars (native code) for ten times the limit: its allocator aborts the process."""
    import polars as pl

    frame = pl.select(pl.int_range(0, (plan.memory_mb * 10 << 20) // 8, dtype=pl.Int64))
    raise AssertionError(frame.height)


def report_environment(plan: JobPlan, ctx: RunContext) -> RunResult:
    """Log which DOCC_* names the process holds, in os.environ and in its original environment block."""
    with open("/proc/self/environ", "rb") as block:
        original = [entry.split(b"=", 1)[0].decode() for entry in block.read().split(b"\0") if entry]
    ctx.log("info", None, "os.environ: " + ",".join(sorted(n for n in os.environ if n.startswith("DOCC_"))))
    ctx.log("info", None, "environ block: " + ",".join(sorted(n for n in original if n.startswith("DOCC_"))))
    return run_plan(plan, ctx)


def parse_filter_unbounded(plan: JobPlan, _ctx: RunContext) -> RunResult:
    """Hand the first step's filter straight to Polars' SQL parser, past the data plane's expression bound."""
    import polars as pl

    pl.sql_expr(plan.steps[0]["config"]["filter"])
    raise AssertionError("the parser survived")


def held_before_publish(plan: JobPlan, ctx: RunContext) -> RunResult:
    """The real steps, held for good once every write is staged, before the parent is asked to publish."""

    def prepare(_records: list[dict]) -> bool:
        _hold_for_good(ctx)

    ctx.prepare = prepare
    return run_plan(plan, ctx)


def held_after_decision(plan: JobPlan, ctx: RunContext) -> RunResult:
    """The real steps; the parent records the decision to publish, then the process holds for good."""
    asked = ctx.prepare

    def prepare(records: list[dict]) -> bool:
        if not asked(records):
            return False
        _hold_for_good(ctx)

    ctx.prepare = prepare
    return run_plan(plan, ctx)


RELEASE = "release"


def _release_file(plan: JobPlan) -> str:
    # Beside the first dataset's file: the test that made the dataset makes this file to let the jobs go on.
    source = next(iter(plan.datasets.values()))[0]
    return os.path.join(os.path.dirname(source["path"]), RELEASE)


def held_until_released(plan: JobPlan, ctx: RunContext) -> RunResult:
    """The real steps, held when the cleaner starts until the test makes the release file (or a cancel)."""
    on_start = ctx.on_step_start
    release = _release_file(plan)

    def start(step_id: str) -> None:
        on_start(step_id)
        if step_id == "clean":
            ctx.log("info", step_id, HELD)
            while not os.path.exists(release) and not ctx.cancel.wait(0.02):
                pass

    ctx.on_step_start = start
    return run_plan(plan, ctx)


def fails_first(plan: JobPlan, ctx: RunContext) -> RunResult:
    """Fail the first attempt (leaving a mark beside the data), run the real steps on the next ones."""
    mark = _release_file(plan) + ".tried"
    if not os.path.exists(mark):
        with open(mark, "w"):
            pass
        raise StepFailed("input", "the first attempt fails")
    return run_plan(plan, ctx)
