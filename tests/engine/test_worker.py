"""`docc-server worker` as a real separate process: it runs queued jobs, stops on SIGTERM, and when killed
mid-job its job is finished by another process once the lease runs out."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from dataclasses import replace
from datetime import UTC, datetime

import polars as pl

from resolvers import jobs
from server.config import Settings
from server.engine.executor import Executor
from server.models.engine import Job, JobLog

from .child_bodies import HELD, PID_PREFIX
from .helpers import CLEANED, PRINCIPAL, TEST_ROOTS, csv_dataset, pipeline, running, wait_finished, wait_for, write_csv


async def test_a_worker_process_runs_queued_jobs(db, tmp_path):
    # given a queued job, and a worker process on the same database
    dataset_id = await csv_dataset(write_csv(str(tmp_path / "in.csv")))
    job = await jobs.run_pipeline(PRINCIPAL, await pipeline(dataset_id, {"path": str(tmp_path / "o.csv")}))
    env = {**os.environ, "DOCC_DATABASE_URL": db, "DOCC_FILE_ROOTS": TEST_ROOTS[0],
           "DOCC_SECRET_KEY_FILE": str(tmp_path / "docc.key"),
           "DOCC_JOB_POLL_SECONDS": "0.2", "DOCC_LOG_LEVEL": "WARNING"}
    worker = await asyncio.create_subprocess_exec(sys.executable, "-m", "server", "worker", env=env,
                                                  stderr=asyncio.subprocess.PIPE)
    try:
        # when
        done = await wait_finished(job.id, attempts=600)
    finally:
        worker.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(worker.communicate(), 20)
    # then it ran there, once, and the worker stopped cleanly
    assert done.status == "succeeded" and done.attempts == 1, stderr.decode()
    assert done.lease_owner and done.lease_owner.split(":")[1] == str(worker.pid)
    assert worker.returncode == 0, stderr.decode()


async def test_a_job_of_a_killed_worker_is_finished_by_another_process(db, tmp_path):
    # given a worker process holding a job inside its cleaner step, with a one-second lease
    dataset_id = await csv_dataset(write_csv(str(tmp_path / "in.csv")))
    out = tmp_path / "out.csv"
    job = await jobs.run_pipeline(PRINCIPAL, await pipeline(dataset_id, {"path": str(out)}))
    env = {**os.environ, "DOCC_DATABASE_URL": db, "DOCC_FILE_ROOTS": TEST_ROOTS[0],
           "DOCC_SECRET_KEY_FILE": str(tmp_path / "docc.key"),
           "DOCC_JOB_POLL_SECONDS": "0.2", "DOCC_LOG_LEVEL": "WARNING",
           "DOCC_JOB_LEASE_SECONDS": "1"}
    worker = await asyncio.create_subprocess_exec(sys.executable, "-m", "tests.engine.held_worker", env=env,
                                                  stderr=asyncio.subprocess.PIPE)
    try:
        await wait_for(lambda: JobLog.filter(job_id=job.id, message=HELD).exists())
        logged = await JobLog.filter(job_id=job.id, message__startswith=PID_PREFIX).first()
        child = int(logged.message.removeprefix(PID_PREFIX))
        assert running(child)
    finally:
        # when the worker dies without a word (no SIGTERM hand-back)
        worker.kill()
        await worker.wait()
    # its job's process goes with it
    await wait_for(lambda: _gone(child))
    held = await Job.get(id=job.id)
    assert held.status == "running" and held.lease_owner.split(":")[1] == str(worker.pid)
    await wait_for(lambda: Job.filter(id=job.id, lease_expires_at__lt=datetime.now(UTC)).exists())
    ran = await Executor(replace(Settings(), database_url=db, file_roots=TEST_ROOTS), owner="rescuer").drain()
    # then another process takes it over and finishes it, with the cleaned rows and no trace of the dead run
    done = await Job.get(id=job.id)
    assert ran == 1 and (done.status, done.attempts, done.lease_owner) == ("succeeded", 2, "rescuer")
    assert pl.read_csv(out).sort("id").rows() == CLEANED
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []



async def _gone(pid: int) -> bool:
    return not running(pid)
