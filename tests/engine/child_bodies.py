"""Stand-ins for the data plane inside a job's process (Executor(child_body=...)): each misbehaves one way.

They run in the child, so they are module-level functions the child can import by name.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading

from server.engine.child import JobPlan, run_plan
from server.engine.dataplane import RunContext, RunResult

HELD = "held by the test body"


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
    """Touch 1.1 times the job's memory limit (under the RLIMIT backstop), then hold it until killed."""
    ctx.log("info", None, HELD)
    held = b"\x01" * ((plan.memory_mb << 20) + (plan.memory_mb << 20) // 10)
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


def environment(plan: JobPlan, ctx: RunContext) -> RunResult:
    """Log the DOCC_* variables the process can see, then run the real steps."""
    names = sorted(name for name in os.environ if name.startswith("DOCC_"))
    ctx.log("info", None, f"environment: {','.join(names) or 'none'}")
    return run_plan(plan, ctx)


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
            ctx.log("info", step_id, HELD)
            threading.Event().wait()

    ctx.on_step_start = start
    return run_plan(plan, ctx)
