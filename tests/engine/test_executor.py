"""The executor runs real pipelines over real files and SQLite tables, in a worker thread."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import polars as pl

from resolvers import jobs
from server.engine.admission import claim_next
from server.engine.executor import LOST_MESSAGE, Executor
from server.models.engine import Job, JobLog, JobStep, Pipeline

from .child_bodies import HELD, held_in_clean
from .helpers import (
    CLEANED,
    PRINCIPAL,
    csv_dataset,
    pipeline,
    settings_for,
    sqlite_rows,
    wait_finished,
    wait_for,
    write_csv,
)


async def test_a_job_cleans_a_csv_file_into_a_sqlite_table(db, tmp_path):
    # given a pipeline from a CSV dataset into the warehouse connection
    dataset_id = await csv_dataset(write_csv(str(tmp_path / "in.csv")))
    warehouse = tmp_path / "wh.db"
    pipeline_id = await pipeline(dataset_id, {"destination": "warehouse.cleaned_customers"})
    job = await jobs.run_pipeline(PRINCIPAL, pipeline_id)
    executor = Executor(settings_for(db, connections={"warehouse": f"sqlite:///{warehouse}"}))
    # when
    ran = await executor.drain()
    # then the rows came out cleaned, and the job records every step
    assert ran == 1
    assert sqlite_rows(str(warehouse), "SELECT id, name, age FROM cleaned_customers ORDER BY id") == CLEANED
    job = await jobs.get_job(PRINCIPAL, job.id)
    assert job.status == "succeeded" and job.percent_complete == 100.0 and job.pipeline_version == 1
    assert job.statistics["rows_read"] == 4 and job.statistics["rows_written"] == 2
    steps = await JobStep.filter(job_id=job.id).order_by("position")
    assert [(s.step_id, s.status, s.rows_in, s.rows_out) for s in steps] == [
        ("input", "succeeded", 4, 4), ("clean", "succeeded", 4, 2), ("output", "succeeded", 2, 2)]
    seqs = await JobLog.filter(job_id=job.id).order_by("seq").values_list("seq", flat=True)
    assert seqs == list(range(1, len(seqs) + 1))


async def test_a_failing_step_fails_the_job_and_names_the_step(db, tmp_path):
    # given an age that cannot be cast to an integer
    frame = pl.DataFrame({"id": ["1"], "name": ["Ann"], "age": ["old"]})
    dataset_id = await csv_dataset(write_csv(str(tmp_path / "in.csv"), frame))
    out = tmp_path / "out.csv"
    pipeline_id = await pipeline(dataset_id, {"path": str(out)})
    job = await jobs.run_pipeline(PRINCIPAL, pipeline_id)
    # when
    await Executor(settings_for(db)).drain()
    # then the source, read with the dataset's schema, names the file, line and column
    job = await jobs.get_job(PRINCIPAL, job.id)
    path = tmp_path / "in.csv"
    assert job.status == "failed"
    assert job.error == f"step 'input' failed: {path}: line 2, column 'age': 'old' is not a valid Int32"
    steps = {s.step_id: s for s in await JobStep.filter(job_id=job.id)}
    assert steps["input"].status == "failed" and steps["clean"].error == "stopped: step 'input' failed"
    assert not out.exists()
    last = await JobLog.filter(job_id=job.id).order_by("-seq").first()
    assert last.level == "error" and last.message.startswith("job failed")


async def test_cancel_stops_a_running_job_and_leaves_no_output(db, tmp_path):
    # given a job whose process holds inside its cleaner step until the cancel arrives
    dataset_id = await csv_dataset(write_csv(str(tmp_path / "in.csv")))
    out = tmp_path / "out.csv"
    pipeline_id = await pipeline(dataset_id, {"path": str(out)})
    executor = Executor(settings_for(db), child_body=held_in_clean)
    await executor.start()
    try:
        job = await jobs.run_pipeline(PRINCIPAL, pipeline_id)
        await wait_for(lambda: JobLog.filter(job_id=job.id, message=HELD).exists())
        # when
        await jobs.cancel_job(PRINCIPAL, job.id)
        job = await wait_finished(job.id)
    finally:
        await executor.stop()
    # then
    assert job.status == "cancelled" and job.cancel_requested
    assert not out.exists()
    steps = {s.step_id: s.status for s in await JobStep.filter(job_id=job.id)}
    assert steps == {"input": "cancelled", "clean": "cancelled", "output": "skipped"}


async def test_cancelling_a_pending_job_cancels_it_at_once(db, tmp_path):
    # given a job that no process has claimed
    dataset_id = await csv_dataset(write_csv(str(tmp_path / "in.csv")))
    job = await jobs.run_pipeline(PRINCIPAL, await pipeline(dataset_id, {"path": str(tmp_path / "o.csv")}))
    # when
    cancelled = await jobs.cancel_job(PRINCIPAL, job.id)
    # then it is never run
    assert cancelled.status == "cancelled" and cancelled.finished_at is not None
    assert await Executor(settings_for(db)).drain() == 0


async def test_a_job_of_a_dead_worker_is_taken_over_when_its_lease_expires(db, tmp_path):
    # given a job claimed by a worker that died: running, with a lease in the past
    dataset_id = await csv_dataset(write_csv(str(tmp_path / "in.csv")))
    out = tmp_path / "out.csv"
    job = await jobs.run_pipeline(PRINCIPAL, await pipeline(dataset_id, {"path": str(out)}))
    past = datetime.now(UTC) - timedelta(minutes=5)
    await Job.filter(id=job.id).update(status="running", lease_owner="dead-worker", lease_token="gone",
                                       lease_expires_at=past, started_at=past, attempts=1)
    # when
    ran = await Executor(settings_for(db), owner="rescuer").drain()
    # then another process ran it to the end, once more
    job = await Job.get(id=job.id)
    assert ran == 1 and job.status == "succeeded" and job.attempts == 2 and job.lease_owner == "rescuer"
    assert pl.read_csv(out).sort("id").rows() == CLEANED
    messages = await JobLog.filter(job_id=job.id).values_list("message", flat=True)
    assert any("taken over by rescuer" in m for m in messages)


async def test_a_job_out_of_attempts_is_failed_not_left_running(db, tmp_path):
    # given a dead worker's job that already used every attempt
    dataset_id = await csv_dataset(write_csv(str(tmp_path / "in.csv")))
    job = await jobs.run_pipeline(PRINCIPAL, await pipeline(dataset_id, {"path": str(tmp_path / "o.csv")}))
    past = datetime.now(UTC) - timedelta(minutes=5)
    await Job.filter(id=job.id).update(status="running", lease_owner="dead-worker", lease_token="gone",
                                       lease_expires_at=past, started_at=past, attempts=3)
    # when
    ran = await Executor(settings_for(db, job_max_attempts=3)).drain()
    # then
    job = await Job.get(id=job.id)
    assert ran == 0 and job.status == "failed" and job.error == LOST_MESSAGE
    assert job.finished_at is not None and job.lease_expires_at is None


async def test_two_workers_racing_run_each_job_exactly_once(db, tmp_path):
    # given five pending jobs and two workers
    dataset_id = await csv_dataset(write_csv(str(tmp_path / "in.csv")))
    pipeline_id = await pipeline(dataset_id, {"path": str(tmp_path / "o.csv")})
    made = [await jobs.run_pipeline(PRINCIPAL, pipeline_id) for _ in range(5)]
    first, second = Executor(settings_for(db), owner="w1"), Executor(settings_for(db), owner="w2")
    # when
    counts = await asyncio.gather(first.drain(), second.drain())
    # then every job ran once, by one of them
    assert sum(counts) == 5
    for job in made:
        row = await Job.get(id=job.id)
        starts = await JobLog.filter(job_id=job.id, message__startswith="job started by").count()
        assert (row.status, row.attempts, starts) == ("succeeded", 1, 1)


async def test_concurrent_claims_never_hand_out_one_job_twice(db, tmp_path):
    # given three pending jobs and eight claimers at once
    dataset_id = await csv_dataset(write_csv(str(tmp_path / "in.csv")))
    pipeline_id = await pipeline(dataset_id, {"path": str(tmp_path / "o.csv")})
    await Pipeline.filter(id=pipeline_id).update(concurrency="allow")  # runs of one pipeline may overlap
    for _ in range(3):
        await jobs.run_pipeline(PRINCIPAL, pipeline_id)
    # when
    claims = await asyncio.gather(*[claim_next(f"w{i}", 30, 3) for i in range(8)])
    # then
    won = [claim.job.id for claim in claims if claim is not None]
    assert len(won) == 3 and len(set(won)) == 3
