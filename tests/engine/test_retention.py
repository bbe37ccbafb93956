"""Retention and history at the engine: old finished jobs go with everything stored about them, nothing else
does; a deleted pipeline's schedule makes no job; the setting is read and the engine runs the purge."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from resolvers import pipelines, schedules
from resolvers.jobs import fire_tick
from server.config import Settings, SettingsError
from server.engine.leases import utcnow
from server.engine.retention import purge
from server.engine.service import engine
from server.models.base import new_id
from server.models.engine import (
    Job,
    JobEvent,
    JobLog,
    JobStep,
    Pipeline,
    PipelineVersion,
    Schedule,
    StagedWrite,
)

from .helpers import PRINCIPAL, TEST_POLICY, clean_steps, csv_dataset, settings_for, wait_for, write_csv

DAY = timedelta(days=1)


async def a_pipeline(name: str, deleted: bool = False) -> Pipeline:
    pipeline_id = new_id("pl")
    row = await Pipeline.create(id=pipeline_id, workspace_id=PRINCIPAL.workspace_id, steps=[],
                                name=f"~{pipeline_id}" if deleted else name, deleted_name=name if deleted else None,
                                deleted_at=utcnow() if deleted else None)
    await PipelineVersion.create(id=new_id("plv"), pipeline=row, version=1, name=name, steps=[], created_by="t")
    return row


async def a_job(pipeline: Pipeline, status: str, age: timedelta, staged: bool = False) -> str:
    """A job created and (unless running) finished `age` ago, with a step, a log line and feed events."""
    at = utcnow() - age
    job = await Job.create(id=new_id("job"), workspace_id=pipeline.workspace_id, pipeline_id=pipeline.id,
                           pipeline_version=1, steps=[], status=status,
                           finished_at=None if status == "running" else at)
    await Job.filter(id=job.id).update(created_at=at)
    await JobStep.create(job_id=job.id, position=0, step_id="input", type="data_source", status="pending")
    await JobStep.filter(job_id=job.id).update(status="running")  # a step change: a feed event of its own
    await JobLog.create(job_id=job.id, seq=1, time=at, level="info", message="job started")
    if staged:
        await StagedWrite.create(job_id=job.id, step_id="output", key="k_1")
    return job.id


async def stored(job_id: str) -> dict[str, int]:
    return {"job": await Job.filter(id=job_id).count(), "steps": await JobStep.filter(job_id=job_id).count(),
            "logs": await JobLog.filter(job_id=job_id).count(),
            "events": await JobEvent.filter(job_id=job_id).count()}


async def test_retention_removes_old_finished_jobs_only_with_everything_stored_about_them(db):
    # given jobs of a live pipeline: old finished ones of each end, a recent one, an old running one, and an
    # old failed one whose staged writes are not finished yet
    live = await a_pipeline("live")
    old = [await a_job(live, status, 40 * DAY) for status in ("succeeded", "failed", "cancelled")]
    recent = await a_job(live, "succeeded", 2 * DAY)
    running = await a_job(live, "running", 40 * DAY)
    unfinished_plan = await a_job(live, "failed", 40 * DAY, staged=True)
    assert (await stored(old[0]))["events"] >= 1
    # when retention of 30 days runs, in batches of two
    purged = await purge(30, batch=2)
    # then the old finished jobs are gone with their steps, logs and feed events
    assert purged.jobs == 3
    for job_id in old:
        assert await stored(job_id) == {"job": 0, "steps": 0, "logs": 0, "events": 0}
    # and the recent, the running and the one with staged writes left stay whole
    for job_id in (recent, running, unfinished_plan):
        kept = await stored(job_id)
        assert kept["job"] == kept["steps"] == kept["logs"] == 1 and kept["events"] >= 1, job_id
    assert await StagedWrite.filter(job_id=unfinished_plan).count() == 1
    assert await Pipeline.filter(id=live.id).count() == 1
    # when the sweep has finished its plan (its row gone), the next pass removes it too
    await StagedWrite.filter(job_id=unfinished_plan).delete()
    assert (await purge(30)).jobs == 1 and (await stored(unfinished_plan))["job"] == 0


async def test_retention_purges_a_deleted_pipeline_once_its_last_job_is_gone(db):
    # given a deleted pipeline with an old and a recent job, and one with no job at all
    kept = await a_pipeline("kept", deleted=True)
    old_job = await a_job(kept, "succeeded", 40 * DAY)
    recent_job = await a_job(kept, "succeeded", 1 * DAY)
    empty = await a_pipeline("empty", deleted=True)
    # when retention runs
    first = await purge(30)
    # then the empty one is purged with its versions; the other stays for its recent job
    assert (first.jobs, first.pipelines) == (1, 1)
    assert await Pipeline.filter(id=empty.id).count() == 0
    assert await PipelineVersion.filter(pipeline_id=empty.id).count() == 0
    assert await Pipeline.filter(id=kept.id).count() == 1 and (await stored(old_job))["job"] == 0
    # when its last job ages past retention
    assert (await purge(30, now=utcnow() + 60 * DAY)).pipelines == 1
    # then it is gone too
    assert await Pipeline.filter(id=kept.id).count() == 0 and (await stored(recent_job))["job"] == 0


async def test_a_deleted_pipelines_schedule_makes_no_job(db, tmp_path):
    # given a scheduled pipeline
    dataset_id = await csv_dataset(write_csv(str(tmp_path / "in.csv")))
    spec = pipelines.PipelineCreate(name="nightly", steps=clean_steps(dataset_id, {"path": str(tmp_path / "o.csv")}),
                                    schedule=schedules.ScheduleSpec(cron="0 2 * * *"))
    made = await pipelines.create_pipeline(PRINCIPAL, spec, policy=TEST_POLICY)
    schedule = await Schedule.get(pipeline_id=made.id)
    # when it is deleted, then its schedule's tick arrives (as from a scheduler that had not heard yet)
    await pipelines.delete_pipeline(PRINCIPAL, made.id)
    job = await fire_tick(schedule.id)
    # then no job was made and the schedule is gone; the row stays, hidden, with the name freed
    assert job is None and await Job.filter(pipeline_id=made.id).count() == 0
    assert await Schedule.filter(pipeline_id=made.id).count() == 0
    row = await Pipeline.get(id=made.id)
    assert row.deleted_at is not None and (row.name, row.deleted_name) == (f"~{made.id}", "nightly")


def test_the_retention_setting_is_off_by_default_and_checked():
    assert Settings.from_env({}).job_retention_days == 0
    assert Settings.from_env({"DOCC_JOB_RETENTION_DAYS": "0"}).job_retention_days == 0
    settings = Settings.from_env({"DOCC_JOB_RETENTION_DAYS": "90", "DOCC_JOB_RETENTION_INTERVAL_SECONDS": "600"})
    assert (settings.job_retention_days, settings.job_retention_interval_seconds) == (90, 600)
    for bad in ("-1", "ninety"):
        with pytest.raises(SettingsError):
            Settings.from_env({"DOCC_JOB_RETENTION_DAYS": bad})


async def test_the_engine_purges_in_the_background_when_retention_is_set(db):
    # given an old finished job
    job_id = await a_job(await a_pipeline("old"), "succeeded", 400 * DAY)
    settings = replace(settings_for(db, job_retention_days=365.0), run_schedules=False)
    # when an engine runs with retention set
    async with engine(settings) as parts:
        assert parts.retention is not None

        # then its first pass removes the job
        async def gone() -> bool:
            return await Job.filter(id=job_id).count() == 0

        await wait_for(gone)
    # and without the setting no retention runs
    async with engine(replace(settings, job_retention_days=0.0)) as parts:
        assert parts.retention is None


async def test_a_run_that_read_the_pipeline_before_its_delete_makes_no_job(db, tmp_path):
    # given a pipeline read by a run that has not made its job yet
    from resolvers import jobs
    from resolvers.errors import NotFound
    dataset_id = await csv_dataset(write_csv(str(tmp_path / "in.csv")))
    spec = pipelines.PipelineCreate(name="raced", steps=clean_steps(dataset_id, {"path": str(tmp_path / "o.csv")}))
    made = await pipelines.create_pipeline(PRINCIPAL, spec, policy=TEST_POLICY)
    read_by_the_run = await Pipeline.get(id=made.id)
    # when the pipeline is deleted, then the run makes its job
    await pipelines.delete_pipeline(PRINCIPAL, made.id)
    with pytest.raises(NotFound):
        await jobs._create(read_by_the_run, 1, read_by_the_run.steps, read_by_the_run.steps, "tests")
    # then no job of the deleted pipeline exists
    assert await Job.filter(pipeline_id=made.id).count() == 0
