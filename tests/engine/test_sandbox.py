"""A job's process on its own: the limits kill it with a clear reason, and its messages are checked."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from server.engine.child import JobPlan, backstop_bytes
from server.engine.dataplane import StepStats
from server.engine.sandbox import ChildRun, Limits, ProtocolError, parse_message

from . import child_bodies
from .helpers import TEST_POLICY, write_csv

SCHEMA = {"fields": [{"name": "id", "type": "integer", "nullable": False},
                     {"name": "name", "type": "string", "nullable": False},
                     {"name": "age", "type": "integer", "nullable": True}]}


def plan_for(tmp_path, memory_mb: int = 4096) -> JobPlan:
    """A plan over a real CSV file: one source step, counted."""
    path = write_csv(str(tmp_path / "in.csv"))
    temp = tmp_path / "job"
    temp.mkdir()
    return JobPlan(job_id="job_test", steps=[{"id": "input", "type": "data_source", "config": {"dataset_id": "ds"}}],
                   datasets={"ds": ({"type": "file", "path": path}, SCHEMA)}, policy=TEST_POLICY, memory_mb=memory_mb,
                   temp_dir=str(temp))


async def run_child(plan: JobPlan, body=None, cancel: threading.Event | None = None,
                    **limits: Any) -> tuple[ChildRun, Any, list[tuple[Any, ...]]]:
    events: list[tuple[Any, ...]] = []
    run = ChildRun(plan, Limits(memory_mb=plan.memory_mb, **limits), lambda *e: events.append(e),
                   cancel or threading.Event(), body)
    return run, await run.run(), events


async def test_the_real_steps_run_in_the_child_and_report_back(tmp_path):
    # when
    run, outcome, events = await run_child(plan_for(tmp_path))
    # then every callback of the data plane arrived, checked, in order
    assert (outcome.status, outcome.error, run.killed) == ("succeeded", None, None)
    assert events[0] == ("start", "input")
    ends = [e for e in events if e[0] == "end"]
    assert ends == [("end", "input", StepStats(4, 4, ends[0][2].duration_s, None))]
    assert ("log", "info", "input", "rows in 4, rows out 4") in events


async def test_a_kill_after_the_run_ended_is_a_no_op(tmp_path):
    # given a run whose process has exited and been released (a stopping server kills every run it still holds)
    run, outcome, _ = await run_child(plan_for(tmp_path))
    # when
    run.kill("stop")
    # then nothing is raised and the outcome stays the one reported
    assert (outcome.status, run.killed, run.exitcode) == ("succeeded", None, 0)


async def test_resident_memory_over_the_limit_is_killed_by_the_watchdog(tmp_path):
    # given a body that touches as much memory as the limit, on top of the interpreter's own
    plan = plan_for(tmp_path, memory_mb=400)
    # when
    run, outcome, _ = await run_child(plan, child_bodies.grow)
    # then the parent killed it, and says why
    assert run.killed == "memory" and run.exitcode == -9
    assert (outcome.status, outcome.error) == ("failed", "exceeded the memory limit of 400 MB")


async def test_a_python_allocation_past_the_backstop_is_refused_in_the_child(tmp_path):
    # given a body asking for ten times the limit in one go (faster than any watchdog tick)
    plan = plan_for(tmp_path, memory_mb=200)
    # when
    run, outcome, _ = await run_child(plan, child_bodies.burst)
    # then RLIMIT_DATA refused it: the child reported it, and nothing had to be killed
    assert run.killed is None and run.exitcode == 0
    assert (outcome.status, outcome.error) == ("failed", "exceeded the memory limit of 200 MB")


async def test_a_native_allocation_past_the_backstop_fails_the_job_as_out_of_memory(tmp_path):
    # given Polars asked for ten times the limit: its allocator aborts the process
    plan = plan_for(tmp_path, memory_mb=200)
    # when
    run, outcome, _ = await run_child(plan, child_bodies.polars_burst)
    # then the abort is read as what it was
    assert run.killed is None and run.exitcode == -6
    assert (outcome.status, outcome.error) == ("failed", "exceeded the memory limit of 200 MB")


def test_the_backstop_sits_a_quarter_above_the_limit():
    assert backstop_bytes(400) == 500 << 20


async def test_a_job_over_its_time_limit_is_killed(tmp_path):
    # when a body never ends
    run, outcome, events = await run_child(plan_for(tmp_path), child_bodies.hang, timeout_seconds=0.3)
    # then
    assert ("log", "info", None, child_bodies.HELD) in events
    assert run.killed == "timeout" and run.exitcode == -9
    assert (outcome.status, outcome.error) == ("failed", "exceeded the time limit of 0.3 s")


async def test_a_child_that_ignores_a_cancel_is_killed_after_the_grace_period(tmp_path):
    # given a cancel requested before it starts, and a body that never looks at it
    cancel = threading.Event()
    cancel.set()
    # when
    run, outcome, _ = await run_child(plan_for(tmp_path), child_bodies.hang, cancel, cancel_grace_seconds=0.2)
    # then
    assert run.killed == "cancel" and run.exitcode == -9
    assert (outcome.status, outcome.error) == ("cancelled", None)


async def test_the_child_holds_no_docc_variable(tmp_path, monkeypatch):
    # given the server process holds settings in DOCC_* variables when it starts the job processes
    from multiprocessing import forkserver

    forkserver._forkserver._stop()  # a fresh forkserver, started from this environment
    monkeypatch.setenv("DOCC_JWT_SIGNING_KEY", "a-signing-key-the-job-must-never-see-0123456789")
    # when
    _, outcome, events = await run_child(plan_for(tmp_path), child_bodies.report_environment)
    # then neither its variables nor the environment block it was started with name one
    assert outcome.status == "succeeded"
    assert ("log", "info", None, "os.environ: ") in events
    assert ("log", "info", None, "environ block: ") in events


@pytest.mark.parametrize("raw", [
    b"not json", b"{}", b"[]", b'["start", "nope"]', b'["start"]', b'["end", "input", -1, 0, 0.1, null]',
    b'["end", "input", true, 0, 0.1, null]', b'["log", "fatal", null, "x"]', b'["log", "info", "nope", "x"]',
    b'["log", "info", null, 7]', b'["progress", "half"]', b'["result", "pwned", null, null]',
    b'["exec", "rm -rf /"]', b'["prepared", {}]', b'["prepared", [{"step": "nope", "kind": "file", "name": "x"}]]',
    b'["prepared", [{"step": "input", "kind": "shell", "name": "x"}]]',
    b'["prepared", [{"step": "input", "kind": "file", "name": ""}]]',
    b'["prepared", [{"step": "input", "kind": "file", "name": "x"}, {"step": "input", "kind": "file", "name": "y"}]]',
    b'["released", "input", "yes"]', b'["released", "nope", true]',
])
def test_a_message_the_parent_does_not_know_is_refused(raw):
    with pytest.raises(ProtocolError):
        parse_message(raw, {"input"})


def test_a_staged_write_report_is_kept_to_the_known_fields():
    # given a report that carries an extra field
    raw = b'["prepared", [{"step": "input", "kind": "table", "name": "_docc_staging_x", "url": "postgres://a"}]]'
    # when / then only the step, kind and name pass
    assert parse_message(raw, {"input"}) == ("prepared", [{"step": "input", "kind": "table",
                                                           "name": "_docc_staging_x"}])
    with pytest.raises(ProtocolError):
        parse_message(b'["prepared", [{"step": "input", "kind": "file", "name": "' + b"x" * 301 + b'"}]]',
                      {"input"})


def test_log_lines_from_the_child_are_bounded():
    kind, level, step, message = parse_message(b'["log", "info", "input", "' + b"x" * 20_000 + b'"]', {"input"})
    assert (kind, level, step, len(message)) == ("log", "info", "input", 8_000)


@pytest.mark.parametrize(("kind", "name", "accepted"), [
    ("table", "_docc_staging_abc_1_0123abcd", True),
    ("file", ".out.csv.docc_abc_1_0123abcd.tmp", True),
    ("table", "_docc_staging_other_1_0123abcd", False),
    ("table", "customers", False),
    ("file", "../../etc/.x.docc_abc_1_0123abcd.tmp", False),
    ("file", "out.csv", False),
])
def test_only_names_of_the_attempt_are_published(kind, name, accepted):
    from server.engine.staging import named_for

    assert named_for({"step": "output", "kind": kind, "name": name}, "abc_1") is accepted
