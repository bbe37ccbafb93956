"""`docc-server worker` as a real separate process: it runs queued jobs and stops on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from resolvers import jobs

from .helpers import PRINCIPAL, csv_dataset, pipeline, wait_finished, write_csv


async def test_a_worker_process_runs_queued_jobs(db, tmp_path):
    # given a queued job, and a worker process on the same database
    dataset_id = await csv_dataset(write_csv(str(tmp_path / "in.csv")))
    job = await jobs.run_pipeline(PRINCIPAL, await pipeline(dataset_id, {"path": str(tmp_path / "o.csv")}))
    env = {**os.environ, "DOCC_DATABASE_URL": db, "DOCC_JOB_POLL_SECONDS": "0.2", "DOCC_LOG_LEVEL": "WARNING"}
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
