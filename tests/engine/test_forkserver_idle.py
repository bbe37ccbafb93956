"""The job forkserver (Polars and the data plane imported) starts with the first job and stops when idle.

It is the parent of every job process and their lives end with it: it is never stopped while one runs,
and a job after a stop starts a new one, with the same rules (no DOCC_* variable in its environment).
"""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest

from resolvers import jobs
from server.config import Settings, SettingsError
from server.engine import forkserver
from server.engine.executor import Executor

from . import child_bodies
from .helpers import PRINCIPAL, csv_dataset, pipeline, settings_for, wait_finished, wait_for, write_csv
from .test_sandbox import plan_for, run_child


def _pid() -> int | None:
    return forkserver.forkserver._forkserver._forkserver_pid


def _state(pid: int) -> str:
    """The process's state letter (Z: dead, not yet reaped), or "" when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return ""


async def test_it_is_not_stopped_while_a_job_process_runs_and_is_after(tmp_path):
    # given a job process that holds until told to stop
    cancel = threading.Event()
    task = asyncio.create_task(run_child(plan_for(tmp_path), child_bodies.hang, cancel, cancel_grace_seconds=0.2))
    await wait_for(lambda: asyncio.sleep(0, forkserver.forkserver_running() and forkserver._uses > 0))
    # when the idle check runs while it runs, even with no idle time asked for
    stopped_while_running = await asyncio.to_thread(forkserver.stop_if_idle, 0.0)
    # then the forkserver stays (its exit would kill the job's process)
    assert stopped_while_running is False and forkserver.forkserver_running()
    # and once the process has ended, a check within the idle time keeps it, and one after stops it
    cancel.set()
    _, outcome, _ = await task
    assert outcome.status == "cancelled"
    assert await asyncio.to_thread(forkserver.stop_if_idle, 3600.0) is False
    pid = _pid()
    assert await asyncio.to_thread(forkserver.stop_if_idle, 0.0) is True
    assert not forkserver.forkserver_running() and _state(pid) == ""  # gone, and reaped


async def test_a_job_after_a_stop_starts_a_new_forkserver_without_the_servers_variables(tmp_path, monkeypatch):
    # given a stopped forkserver, and a server holding its settings in DOCC_* variables
    await asyncio.to_thread(forkserver.stop_if_idle, 0.0)
    assert not forkserver.forkserver_running()
    monkeypatch.setenv("DOCC_JWT_SIGNING_KEY", "a-signing-key-the-job-must-never-see-0123456789")
    # when a job runs
    _, outcome, events = await run_child(plan_for(tmp_path), child_bodies.report_environment)
    # then it ran from a new forkserver, which was started without them
    assert outcome.status == "succeeded" and forkserver.forkserver_running()
    assert ("log", "info", None, "environ block: ") in events


async def test_a_forkserver_that_died_is_restarted_by_the_launch_without_the_servers_variables(tmp_path,
                                                                                              monkeypatch):
    # given a running forkserver that is killed behind the server's back
    await asyncio.to_thread(forkserver.start_forkserver)
    pid = _pid()
    os.kill(pid, 9)
    # dead, every thread of it (a zombie leader's threads may still be exiting): the launch's check reaps it
    await wait_for(lambda: asyncio.sleep(0, os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)))
    monkeypatch.setenv("DOCC_JWT_SIGNING_KEY", "a-signing-key-the-job-must-never-see-0123456789")
    # when a job process is launched straight away (without the run's own start)
    process = forkserver.JobProcess(target=os.getpid, daemon=True)
    with forkserver.in_use():
        await asyncio.to_thread(process.start)
        await asyncio.to_thread(process.join, 30)
    # then a new forkserver was started, and its environment block names no DOCC_* variable
    new = _pid()
    assert process.exitcode == 0 and new not in (None, pid)
    block = await asyncio.to_thread(Path(f"/proc/{new}/environ").read_bytes)
    names = [entry.split(b"=", 1)[0] for entry in block.split(b"\0") if entry]
    assert not [name for name in names if name.startswith(b"DOCC_")]


async def test_the_executor_stops_the_idle_forkserver_and_the_next_job_runs(db, tmp_path):
    # given an executor that stops the forkserver after a short idle time
    await asyncio.to_thread(forkserver.stop_if_idle, 0.0)
    executor = Executor(settings_for(db, job_forkserver_idle_seconds=0.2))
    await executor.start()
    try:
        # then a started server holds no forkserver before its first job
        assert not forkserver.forkserver_running()
        dataset_id = await csv_dataset(write_csv(str(tmp_path / "in.csv")))
        pipeline_id = await pipeline(dataset_id, {"path": str(tmp_path / "out.csv")})
        for _ in range(2):
            # when a job runs
            job = await jobs.run_pipeline(PRINCIPAL, pipeline_id)
            # then it succeeds, and once idle the forkserver is stopped
            assert (await wait_finished(job.id)).status == "succeeded"
            await wait_for(lambda: asyncio.sleep(0, not forkserver.forkserver_running()))
    finally:
        await executor.stop()


async def test_always_starts_it_with_the_executor_and_keeps_it(db):
    # given a stopped forkserver
    await asyncio.to_thread(forkserver.stop_if_idle, 0.0)
    executor = Executor(settings_for(db, job_forkserver="always", job_forkserver_idle_seconds=0.05))
    # when the executor starts
    await executor.start()
    try:
        # then the forkserver runs, and no idle check of the executor stops it
        assert forkserver.forkserver_running()
        assert not any(task.get_coro().__name__ == "_forkserver_loop" for task in executor._background)
    finally:
        await executor.stop()


@pytest.mark.parametrize(("env", "expected"), [
    ({}, ("on-demand", 300.0)),
    ({"DOCC_JOB_FORKSERVER": "always"}, ("always", 300.0)),
    ({"DOCC_JOB_FORKSERVER": "ON-DEMAND", "DOCC_JOB_FORKSERVER_IDLE_SECONDS": "12.5"}, ("on-demand", 12.5)),
])
def test_the_settings(env, expected):
    settings = Settings.from_env(env)
    assert (settings.job_forkserver, settings.job_forkserver_idle_seconds) == expected


@pytest.mark.parametrize("env", [{"DOCC_JOB_FORKSERVER": "never"}, {"DOCC_JOB_FORKSERVER_IDLE_SECONDS": "0"},
                                 {"DOCC_JOB_FORKSERVER_IDLE_SECONDS": "soon"}])
def test_bad_settings_are_refused(env):
    with pytest.raises(SettingsError):
        Settings.from_env(env)
