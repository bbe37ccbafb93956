"""Run controls on real jobs: one writer per destination, concurrency policies, running-job limits,
retries with backoff and timeouts. Jobs are held by a test body until the test lets them go."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from resolvers import jobs, pipelines
from resolvers.views.jobs import JobView
from server.engine import admission
from server.engine.child import Body
from server.engine.executor import Executor
from server.models.engine import Job, JobAttempt, JobEvent, JobLog

from .child_bodies import HELD, RELEASE, fails_first, held_in_clean, held_until_released
from .helpers import (
    CLEANED,
    PRINCIPAL,
    TEST_POLICY,
    clean_steps,
    csv_dataset,
    settings_for,
    sqlite_rows,
    wait_finished,
    wait_for,
    write_csv,
)


async def make_pipeline(dataset_id: str, sink: dict[str, Any], name: str = "p", **controls: Any) -> str:
    spec = pipelines.PipelineCreate.model_validate({"name": name, "steps": clean_steps(dataset_id, sink),
                                                    **controls})
    return (await pipelines.create_pipeline(PRINCIPAL, spec, policy=TEST_POLICY)).id


def held(job_id: str):
    return lambda: JobLog.filter(job_id=job_id, message=HELD).exists()


def status(job_id: str, wanted: str):
    return lambda: Job.filter(id=job_id, status=wanted).exists()


async def started_after(first: str, second: str) -> bool:
    """Whether `second` began its run (its first log line of an attempt) after `first` had finished."""
    a, b = await Job.get(id=first), await Job.get(id=second)
    start = await JobLog.filter(job_id=second, message__startswith="job started by").order_by("-seq").first()
    return a.finished_at is not None and b.finished_at is not None and start is not None \
        and start.time >= a.finished_at


@pytest.fixture
async def dataset_id(db: str, tmp_path: Path) -> str:
    """A dataset over the sample customers CSV in the test's folder."""
    return await csv_dataset(write_csv(str(tmp_path / "in.csv")))


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    """The SQLite file behind the `warehouse` connection of `held_executor(..., warehouse=...)`."""
    return tmp_path / "wh.db"


@asynccontextmanager
async def held_executor(db: str, warehouse: Path | None = None, **settings: Any) -> AsyncIterator[Executor]:
    """A started executor whose jobs hold in their first step until the test touches RELEASE; stopped on exit."""
    if warehouse is not None:
        settings["connections"] = {"warehouse": f"sqlite:///{warehouse}"}
    executor = Executor(settings_for(db, job_poll_seconds=0.05, **settings), child_body=held_until_released)
    await executor.start()
    try:
        yield executor
    finally:
        await executor.stop()


async def run_to_the_end(db: str, pipeline_id: str, child_body: Body | None = None) -> JobView:
    """Run the pipeline once, let an executor drain the queue, and return the finished job."""
    job = await jobs.run_pipeline(PRINCIPAL, pipeline_id)
    await Executor(settings_for(db, job_poll_seconds=0.05), child_body=child_body).drain()
    return await jobs.get_job(PRINCIPAL, job.id)


async def held_run(pipeline_id: str) -> JobView:
    """Run the pipeline and wait until its job holds in its first step."""
    job = await jobs.run_pipeline(PRINCIPAL, pipeline_id)
    await wait_for(held(job.id))
    return job


def warehouse_rows(warehouse: Path) -> list[tuple[Any, ...]]:
    return sqlite_rows(str(warehouse), "SELECT id, name, age FROM customers ORDER BY id")


async def test_allow_two_runs_into_one_sqlite_table_write_one_after_the_other(db, tmp_path, dataset_id, warehouse):
    # given a pipeline that allows overlapping runs into one table, and two runs of it
    pipeline_id = await make_pipeline(dataset_id, {"destination": "warehouse.customers"}, concurrency="allow")
    async with held_executor(db, warehouse):
        first = await held_run(pipeline_id)
        second = await jobs.run_pipeline(PRINCIPAL, pipeline_id)
        # when the second starts while the first holds the table
        await wait_for(lambda: Job.filter(id=second.id, waiting_for__contains=first.id).exists())
        waiting = await jobs.get_job(PRINCIPAL, second.id)
        (tmp_path / RELEASE).touch()
        done = [await wait_finished(first.id), await wait_finished(second.id)]
    # then it ran, waited for the writer (shown in its status and log), and both succeeded in turn
    assert waiting.status == "running"
    assert waiting.waiting_for == f"waiting for the writer of sqlite:///{warehouse} table customers ({first.id})"
    assert await JobLog.filter(job_id=second.id, message=waiting.waiting_for).exists()
    assert [job.status for job in done] == ["succeeded", "succeeded"], [job.error for job in done]
    assert done[1].waiting_for is None
    assert warehouse_rows(warehouse) == CLEANED


async def test_two_pipelines_writing_one_file_by_two_spellings_never_write_at_once(db, tmp_path, dataset_id):
    # given two pipelines into the same CSV file, named once directly and once through `..`
    (tmp_path / "sub").mkdir()
    out = tmp_path / "out.csv"
    one = await make_pipeline(dataset_id, {"path": str(out)}, name="one")
    two = await make_pipeline(dataset_id, {"path": str(tmp_path / "sub" / ".." / "out.csv")}, name="two")
    async with held_executor(db):
        first = await held_run(one)
        # when
        second = await jobs.run_pipeline(PRINCIPAL, two)
        await wait_for(lambda: Job.filter(id=second.id, waiting_for__contains=first.id).exists())
        held_second = await JobLog.filter(job_id=second.id, message=HELD).exists()
        (tmp_path / RELEASE).touch()
        done = [await wait_finished(first.id), await wait_finished(second.id)]
    # then the second did not start its steps while the first held the file; both wrote it, in turn
    assert not held_second
    assert [job.status for job in done] == ["succeeded", "succeeded"]
    assert await started_after(first.id, second.id) or await JobLog.filter(
        job_id=second.id, message__startswith="waiting for the writer of").exists()
    assert pl.read_csv(out).rows() == CLEANED


async def test_queue_runs_the_second_run_after_the_first(db, tmp_path, dataset_id, warehouse):
    # given the default policy (queue) and two runs
    pipeline_id = await make_pipeline(dataset_id, {"destination": "warehouse.customers"})
    async with held_executor(db, warehouse):
        first = await held_run(pipeline_id)
        second = await jobs.run_pipeline(PRINCIPAL, pipeline_id)
        # when
        await wait_for(status(second.id, "queued"))
        queued = await jobs.list_jobs(PRINCIPAL, jobs.JobFilter(status="queued"), jobs.PageRequest(limit=10))
        (tmp_path / RELEASE).touch()
        done = [await wait_finished(first.id), await wait_finished(second.id)]
    # then the second stayed queued (listed as such, with why) until the first ended, then ran
    assert [job.id for job in queued.items] == [second.id]
    assert queued.items[0].waiting_for == f"waiting for {first.id} of this pipeline to finish (concurrency: queue)"
    assert [job.status for job in done] == ["succeeded", "succeeded"]
    assert await started_after(first.id, second.id)
    assert warehouse_rows(warehouse) == CLEANED


async def test_skip_records_the_new_run_as_skipped_with_the_reason(db, tmp_path, dataset_id):
    # given a run of a `skip` pipeline in progress
    out = tmp_path / "out.csv"
    pipeline_id = await make_pipeline(dataset_id, {"path": str(out)}, concurrency="skip")
    async with held_executor(db):
        first = await held_run(pipeline_id)
        # when
        second = await jobs.run_pipeline(PRINCIPAL, pipeline_id)
        (tmp_path / RELEASE).touch()
        done = await wait_finished(first.id)
    # then the new run is recorded, skipped, and says why; the running one is untouched
    assert second.status == "skipped" and second.finished
    assert second.error == f"skipped: {first.id} of this pipeline is active (concurrency: skip)"
    assert {step.status for step in second.steps} == {"skipped"}
    assert (await Job.get(id=second.id)).status == "skipped"
    assert done.status == "succeeded" and pl.read_csv(out).rows() == CLEANED


async def test_replace_cancels_the_running_one_and_runs_after_it_stops(db, tmp_path, dataset_id, warehouse):
    # given a run of a `replace` pipeline in progress
    pipeline_id = await make_pipeline(dataset_id, {"destination": "warehouse.customers"}, concurrency="replace")
    async with held_executor(db, warehouse):
        first = await held_run(pipeline_id)
        # when
        second = await jobs.run_pipeline(PRINCIPAL, pipeline_id)
        replaced = await wait_finished(first.id)
        await wait_for(held(second.id))
        (tmp_path / RELEASE).touch()
        done = await wait_finished(second.id)
    # then the first was cancelled (writing nothing), and the new one ran once it had stopped
    assert replaced.status == "cancelled" and replaced.cancel_requested
    assert done.status == "succeeded", done.error
    assert await started_after(first.id, second.id)
    assert warehouse_rows(warehouse) == CLEANED


async def test_a_global_limit_keeps_jobs_queued_in_order(db, tmp_path, dataset_id):
    # given at most one running job in the cluster and three runs of three pipelines
    ids = [await make_pipeline(dataset_id, {"path": str(tmp_path / f"out{i}.csv")}, name=f"p{i}") for i in range(3)]
    async with held_executor(db, max_concurrent_jobs=3, max_running_jobs=1):
        first = await held_run(ids[0])
        later = [await jobs.run_pipeline(PRINCIPAL, pipeline_id) for pipeline_id in ids[1:]]
        # when
        for job in later:
            await wait_for(status(job.id, "queued"))
        running = await Job.filter(status="running").count()
        reasons = {(await Job.get(id=job.id)).waiting_for for job in later}
        (tmp_path / RELEASE).touch()
        done = [await wait_finished(job.id) for job in (first, *later)]
    # then one ran at a time, the others waited queued and started in the order they were asked for
    assert running == 1
    assert reasons == {"waiting for a slot: at most 1 jobs run at once"}
    assert [job.status for job in done] == ["succeeded"] * 3
    assert await started_after(first.id, later[0].id) and await started_after(later[0].id, later[1].id)


async def test_a_per_pipeline_limit_lets_allowed_runs_overlap_up_to_it(db, tmp_path, dataset_id):
    # given an `allow` pipeline limited to two running jobs, and three runs
    pipeline_id = await make_pipeline(dataset_id, {"path": str(tmp_path / "out.csv")}, concurrency="allow")
    async with held_executor(db, max_concurrent_jobs=3, max_running_jobs_per_pipeline=2):
        runs = [await jobs.run_pipeline(PRINCIPAL, pipeline_id) for _ in range(3)]
        # when
        await wait_for(status(runs[2].id, "queued"))
        await wait_for(status(runs[1].id, "running"))
        third = await Job.get(id=runs[2].id)
        (tmp_path / RELEASE).touch()
        done = [await wait_finished(job.id) for job in runs]
    # then two ran (the second waiting for the file's writer), the third was queued until a slot freed
    assert third.waiting_for == "waiting for a slot: at most 2 jobs of this pipeline run at once"
    assert [job.status for job in done] == ["succeeded"] * 3


async def test_retries_run_failed_attempts_again_with_backoff_up_to_the_count(db, tmp_path):
    # given a step that always fails, and two retries with backoff 3 capped at 0.02 s
    frame = pl.DataFrame({"id": ["1"], "name": ["Ann"], "age": ["old"]})
    dataset_id = await csv_dataset(write_csv(str(tmp_path / "in.csv"), frame))
    pipeline_id = await make_pipeline(dataset_id, {"path": str(tmp_path / "out.csv")},
                                      retries={"count": 2, "delay": 0.01, "backoff": 3, "max_delay": "0.02s"})
    # when
    done = await run_to_the_end(db, pipeline_id)
    # then three attempts ran, each failed with its own error, with the delays of the policy between them
    assert done.status == "failed" and "age" in (done.error or "")
    assert [(a.number, a.status) for a in done.attempts] == [(1, "failed"), (2, "failed"), (3, "failed")]
    assert all(a.error and "age" in a.error and a.finished_at for a in done.attempts)
    lines = [line.message for line in (await jobs.job_logs(PRINCIPAL, done.id)).lines]
    retrying = [line.split("; ", 1)[1] for line in lines if line.startswith("attempt ")]
    assert retrying == ["retrying in 0.01 s (attempt 2 of 3)", "retrying in 0.02 s (attempt 3 of 3)"]
    assert not (tmp_path / "out.csv").exists()


async def test_a_retry_that_succeeds_ends_the_job_succeeded_with_both_attempts(db, tmp_path, dataset_id):
    # given a job whose first attempt fails
    out = tmp_path / "out.csv"
    pipeline_id = await make_pipeline(dataset_id, {"path": str(out)}, retries={"count": 3})
    # when
    done = await run_to_the_end(db, pipeline_id, child_body=fails_first)
    # then
    assert done.status == "succeeded" and done.error is None
    assert [(a.number, a.status, a.error) for a in done.attempts] == [
        (1, "failed", "step 'input' failed: the first attempt fails"), (2, "succeeded", None)]
    assert pl.read_csv(out).rows() == CLEANED


async def test_a_job_past_its_timeout_is_cancelled_and_marked_timed_out(db, tmp_path, dataset_id):
    # given a job that never ends by itself, a timeout of 0.3 s and one retry
    out = tmp_path / "out.csv"
    pipeline_id = await make_pipeline(dataset_id, {"path": str(out)}, timeout="0.3s", retries={"count": 1})
    # when
    done = await run_to_the_end(db, pipeline_id, child_body=held_in_clean)
    # then both attempts timed out, the job is timed_out and finished, and nothing was written
    assert done.status == "timed_out" and done.finished and done.error == "timed out after 0.3 s"
    assert [(a.number, a.status, a.error) for a in done.attempts] == [
        (1, "timed_out", "timed out after 0.3 s"), (2, "timed_out", "timed out after 0.3 s")]
    assert not out.exists()
    # and the job feed's triggers count timed_out as finished
    kinds = await JobEvent.filter(job_id=done.id, status="timed_out").values_list("kind", flat=True)
    assert kinds[0] == "finished"
    assert await JobAttempt.filter(job_id=done.id, status="running").count() == 0


async def test_a_long_queue_of_one_pipeline_never_hides_a_job_of_another(db, tmp_path, dataset_id, monkeypatch):
    # given a running job of pipeline A, more queued runs of A than one batch of the claimer, then a run of B
    monkeypatch.setattr(admission, "BATCH", 2)
    a = await make_pipeline(dataset_id, {"path": str(tmp_path / "a.csv")}, name="a")
    b = await make_pipeline(dataset_id, {"path": str(tmp_path / "b.csv")}, name="b")
    first = await jobs.run_pipeline(PRINCIPAL, a)
    assert (await admission.claim_next("w", 30, 3)).job.id == first.id
    waiting = [await jobs.run_pipeline(PRINCIPAL, a) for _ in range(3)]
    other = await jobs.run_pipeline(PRINCIPAL, b)
    # when
    claim = await admission.claim_next("w", 30, 3)
    # then B's job starts, and A's wait queued, in order, saying for what
    assert claim is not None and claim.job.id == other.id
    rows = [await Job.get(id=job.id) for job in waiting]
    assert {(row.status, row.waiting_for) for row in rows} == {
        ("queued", f"waiting for {first.id} of this pipeline to finish (concurrency: queue)")}
    assert await admission.claim_next("w", 30, 3) is None
