"""A job cannot take the server down: crashes, leaks and hangs in a job's process fail that job only."""

from __future__ import annotations

import asyncio
import os
import pickle
import sys
from pathlib import Path

import polars as pl
import pytest

from resolvers import jobs
from server.engine.executor import Executor
from server.engine.runner import build_plan
from server.models.engine import Job, JobLog, JobStep, Pipeline, PipelineVersion

from . import child_bodies
from .helpers import (
    CLEANED,
    PRINCIPAL,
    TEST_POLICY,
    csv_dataset,
    pipeline,
    running,
    settings_for,
    wait_finished,
    wait_for,
    write_csv,
)


async def queued_job(tmp_path, name: str = "in.csv") -> tuple[str, Path]:
    """A pending job of the cleaning pipeline over a CSV file; returns its id and its output path."""
    label = name.replace(".", "_")
    dataset_id = await csv_dataset(write_csv(str(tmp_path / name)), name=label)
    out = tmp_path / f"out-{name}"
    job = await jobs.run_pipeline(PRINCIPAL, await pipeline(dataset_id, {"path": str(out)}, name=label))
    return job.id, out


async def assert_next_job_succeeds(db: str, tmp_path) -> None:
    job_id, out = await queued_job(tmp_path, "next.csv")
    assert await Executor(settings_for(db)).drain() == 1
    job = await Job.get(id=job_id)
    assert job.status == "succeeded", job.error
    assert pl.read_csv(out).sort("id").rows() == CLEANED


@pytest.mark.parametrize("body", [child_bodies.segfault, child_bodies.kill_self], ids=["null-read", "sigsegv"])
async def test_a_job_that_segfaults_fails_alone_and_the_next_job_runs(db, tmp_path, body):
    # given a job whose process dies of a segmentation fault
    job_id, out = await queued_job(tmp_path)
    # when
    ran = await Executor(settings_for(db), child_body=body).drain()
    # then this process (the server) lives on, the job failed with the reason, and no step is left open
    job = await Job.get(id=job_id)
    assert ran == 1 and job.status == "failed"
    assert job.error == "the job's process crashed (SIGSEGV); the server is unaffected"
    assert not out.exists()
    steps = await JobStep.filter(job_id=job_id).values_list("status", flat=True)
    assert set(steps) <= {"failed", "skipped"}
    last = await JobLog.filter(job_id=job_id).order_by("-seq").first()
    assert last.level == "error" and last.message == f"job failed: {job.error}"
    await assert_next_job_succeeds(db, tmp_path)


async def test_a_job_that_calls_sys_exit_fails_with_its_exit_code(db, tmp_path):
    job_id, _ = await queued_job(tmp_path)
    await Executor(settings_for(db), child_body=child_bodies.exit_early).drain()
    job = await Job.get(id=job_id)
    assert (job.status, job.error) == ("failed", "the job's process exited unexpectedly (exit code 3)")
    await assert_next_job_succeeds(db, tmp_path)


async def test_a_job_over_its_memory_limit_fails_and_the_next_job_runs(db, tmp_path):
    # given a memory limit of 400 MB and a job that grows past it
    job_id, _ = await queued_job(tmp_path)
    # when
    await Executor(settings_for(db, job_memory_mb=400), child_body=child_bodies.grow).drain()
    # then
    job = await Job.get(id=job_id)
    assert (job.status, job.error) == ("failed", "exceeded the memory limit of 400 MB")
    await assert_next_job_succeeds(db, tmp_path)


async def test_a_job_over_its_time_limit_fails(db, tmp_path):
    job_id, _ = await queued_job(tmp_path)
    await Executor(settings_for(db, job_timeout_seconds=0.5), child_body=child_bodies.hang).drain()
    job = await Job.get(id=job_id)
    assert (job.status, job.error) == ("failed", "exceeded the time limit of 0.5 s")


async def test_stopping_the_server_kills_a_stuck_job_process_and_requeues_its_job(db, tmp_path):
    # given a job whose process is stuck inside its cleaner and ignores the cancel
    job_id, out = await queued_job(tmp_path)
    executor = Executor(settings_for(db), child_body=child_bodies.held_forever)
    await executor.start()
    stopped = False
    try:
        await wait_for(lambda: JobLog.filter(job_id=job_id, message=child_bodies.HELD).exists())
        pid = executor.runs[job_id].child.pid
        assert pid is not None and running(pid)
        # when
        await executor.stop(grace_seconds=0.3)
        stopped = True
    finally:
        if not stopped:
            await executor.stop(grace_seconds=0.3)
    # then the process is gone, and the job waits for the next process, with nothing written
    assert not running(pid)
    job = await Job.get(id=job_id)
    assert job.status == "pending" and job.lease_owner is None
    assert not out.exists()


async def test_the_plan_holds_the_datasets_and_only_the_connections_its_sinks_name(db, tmp_path):
    # given two named connections, and a pipeline writing to one of them
    dataset_id = await csv_dataset(write_csv(str(tmp_path / "in.csv")))
    job = await jobs.run_pipeline(PRINCIPAL, await pipeline(dataset_id, {"destination": "warehouse.customers"}))
    connections = {"warehouse": f"sqlite:///{tmp_path / 'wh.db'}", "finance": "postgresql://u:secret@h/db"}
    # when
    row = await Job.get(id=job.id)
    plan = await build_plan(row, connections, TEST_POLICY, 512, str(tmp_path))
    # then it is plain data the child can run without the server's database
    copy = pickle.loads(pickle.dumps(plan))
    assert copy.connections == {"warehouse": connections["warehouse"]}
    assert copy.datasets[dataset_id][0]["path"] == str(tmp_path / "in.csv")
    assert (copy.job_id, copy.memory_mb, copy.steps, copy.policy) == (job.id, 512, row.steps, TEST_POLICY)
    # and the job runs from it
    await Executor(settings_for(db, connections=connections)).drain()
    assert (await Job.get(id=job.id)).status == "succeeded"


async def test_a_7000_term_filter_saved_behind_the_api_fails_only_its_job(client, tmp_path):
    # given a pipeline whose source filter has 7,000 OR terms, written straight into the store so that
    # no save-time bound stops it (parsing it would overflow the native stack of Polars' SQL parser)
    write_csv(str(tmp_path / "in.csv"))
    dataset = await (await client.post("/api/v1/datasets", json={
        "name": "customers", "source": {"type": "file", "path": str(tmp_path / "in.csv")},
        "schema": {"fields": [{"name": "id", "type": "integer"}, {"name": "name", "type": "string"},
                              {"name": "age", "type": "integer"}]}})).json()
    steps = [{"id": "input", "type": "data_source", "config": {"dataset_id": dataset["id"]}},
             {"id": "output", "type": "data_sink", "config": {"path": str(tmp_path / "out.csv")}}]
    made = await (await client.post("/api/v1/pipelines", json={"name": "huge_filter", "steps": steps})).json()
    huge = " OR ".join(f"id = {i}" for i in range(7_000))
    steps[0]["config"]["filter"] = huge
    await Pipeline.filter(id=made["id"]).update(steps=steps)
    await PipelineVersion.filter(pipeline_id=made["id"]).update(steps=steps)
    # when the API runs it
    job = await (await client.post(f"/api/v1/pipelines/{made['id']}/run")).json()
    await wait_for(lambda: Job.filter(id=job["id"], status="failed").exists(), attempts=600)
    # then the job failed (the bound is applied again in the job's process), and the API still answers
    failed = await (await client.get(f"/api/v1/jobs/{job['id']}")).json()
    assert failed["error"].startswith("invalid pipeline: steps[0].config.filter: Expression too large")
    assert (await client.get("/api/v1/datasets")).status == 200
    assert not (tmp_path / "out.csv").exists()
    # and the next job of a sane pipeline runs to the end
    steps[0]["config"].pop("filter")
    sane = await (await client.post("/api/v1/pipelines", json={"name": "sane", "steps": steps})).json()
    next_job = await (await client.post(f"/api/v1/pipelines/{sane['id']}/run")).json()
    done = await wait_finished(next_job["id"], attempts=600)
    assert done.status == "succeeded", done.error
    assert pl.read_csv(tmp_path / "out.csv").height == 4


async def test_a_job_process_does_not_rerun_the_servers_entry_script(tmp_path):
    # given a parent started from a script path, as `docc-server` is
    record = tmp_path / "runs.txt"
    script = Path(__file__).with_name("main_script.py")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    process = await asyncio.create_subprocess_exec(sys.executable, str(script), str(record), env=env,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    # when it runs a job
    out, err = await asyncio.wait_for(process.communicate(), 120)
    # then the job ran, and the script's top level ran once: in the parent only
    assert process.returncode == 0 and out.decode().strip() == "succeeded", err.decode()
    assert record.read_text() == "__main__\n"


async def test_the_parser_crash_on_a_7000_term_filter_kills_only_the_job_process(db, tmp_path):
    # given a job whose stored filter has 7,000 OR terms, and a job process that parses it with no bound
    job_id, out = await queued_job(tmp_path)
    job = await Job.get(id=job_id)
    steps = [dict(step) for step in job.steps]
    steps[0] = {**steps[0], "config": {**steps[0]["config"], "filter": " OR ".join(f"id = {i}" for i in range(7_000))}}
    await Job.filter(id=job_id).update(steps=steps)
    # when
    await Executor(settings_for(db), child_body=child_bodies.parse_filter_unbounded).drain()
    # then Polars' stack overflow ended that process only
    job = await Job.get(id=job_id)
    assert (job.status, job.error) == ("failed", "the job's process crashed (SIGSEGV); the server is unaffected")
    assert not out.exists()
    await assert_next_job_succeeds(db, tmp_path)
