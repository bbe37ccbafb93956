"""Pipelines, schedules, versions, runs and jobs through the SDK against a real server."""

from __future__ import annotations

import docc
import pytest

from tests.clients.conftest import Server, start
from tests.clients.helpers import BAD_CSV, assert_fully_known, dataset_spec, pipeline_spec, unique


@pytest.fixture
def client(server):
    with docc.Client(server.url, server.key) as client:
        yield client


@pytest.fixture(scope="module")
def idle(tmp_path_factory):
    """A server that runs no job: every job it queues stays pending until cancelled."""
    tmp = tmp_path_factory.mktemp("idle")
    with start(tmp, run_jobs=False) as (port, key):
        yield Server(f"http://127.0.0.1:{port}", key, tmp)


def make_pipeline(client, server, csv=None):
    dataset = client.datasets.create(dataset_spec(server.files, **({"csv": csv} if csv else {})))
    return client.pipelines.create(pipeline_spec(dataset.id, server.files))


def test_a_pipeline_round_trips_with_versions_and_schedule(client, server):
    # given
    pipeline = make_pipeline(client, server)
    # when
    renamed = client.pipelines.update(pipeline.id, description="v2", if_match=pipeline.etag)
    scheduled = client.pipelines.schedule(pipeline.id, "0 2 * * *", timezone="Europe/Paris")
    paused = client.pipelines.pause_schedule(pipeline.id)
    resumed = client.pipelines.resume_schedule(pipeline.id)
    versions = list(client.pipelines.versions(pipeline.id))
    listed = list(client.pipelines.list(name=pipeline.name))
    client.pipelines.remove_schedule(pipeline.id)
    # then
    assert renamed.version == 2 and renamed.description == "v2"
    schedule = scheduled.schedule if isinstance(scheduled, docc.models.Pipeline) else scheduled
    assert schedule.cron == "0 2 * * *" and schedule.timezone == "Europe/Paris" and len(schedule.next_runs) == 5
    assert (paused.schedule if hasattr(paused, "steps") else paused).paused is True
    assert (resumed.schedule if hasattr(resumed, "steps") else resumed).paused is False
    assert [v.version for v in versions] == [2, 1]
    assert [p.id for p in listed] == [pipeline.id] and client.pipelines.get(pipeline.id).schedule is None
    for model in (pipeline, renamed, scheduled, paused, *versions, *listed):
        assert_fully_known(model)
    with pytest.raises(docc.PreconditionFailed):
        client.pipelines.update(pipeline.id, description="stale", if_match=pipeline.etag)
    client.pipelines.delete(pipeline.id)
    with pytest.raises(docc.NotFound):
        client.pipelines.get(pipeline.id)


def test_a_run_is_waited_for_and_its_stored_log_read(client, server):
    # given
    pipeline = make_pipeline(client, server)
    # when
    job = client.pipelines.run(pipeline.id)
    done = job.wait(timeout=60)
    lines = list(done.logs())
    # then
    assert job.status in {"pending", "running"} and job.trigger == "manual"
    assert done.status == "succeeded" and done.percent_complete == 100.0
    assert [(s.id, s.rows_in, s.rows_out) for s in done.steps] == [("input", 4, 4), ("clean", 4, 2),
                                                                    ("output", 2, 2)]
    assert [line.seq for line in lines] == list(range(1, len(lines) + 1)) and "succeeded" in lines[-1].message
    assert list(done.logs(level="error")) == [] and list(client.jobs.logs(job.id, level="info")) == lines
    assert [j.id for j in client.jobs.list(pipeline_id=pipeline.id)] == [job.id]
    for model in (job, done, *lines):
        assert_fully_known(model)


def test_the_same_idempotency_key_answers_the_same_job(client, server):
    # given
    pipeline = make_pipeline(client, server)
    key = unique("nightly")
    # when
    first = client.pipelines.run(pipeline.id, idempotency_key=key)
    again = client.pipelines.run(pipeline.id, idempotency_key=key)
    # then
    assert again.id == first.id
    assert len(list(client.jobs.list(pipeline_id=pipeline.id))) == 1
    first.wait(timeout=60)


def test_a_failed_job_raises_when_asked_and_is_retried(client, server):
    # given
    pipeline = make_pipeline(client, server, csv=BAD_CSV)
    job = client.pipelines.run(pipeline.id)
    # when
    with pytest.raises(docc.JobFailed) as failed:
        job.wait(timeout=60, raise_on_failure=True)
    retried = failed.value.job.retry()
    # then
    assert failed.value.job.status == "failed" and "thirty" in failed.value.job.error
    assert retried.trigger == "retry" and retried.retry_of == job.id and retried.id != job.id
    assert retried.wait(timeout=60).status == "failed"
    with pytest.raises(docc.NotFound):
        client.jobs.retry("job_missing")


def test_a_pending_job_is_cancelled_and_a_wait_times_out(idle):
    with docc.Client(idle.url, idle.key) as client:
        # given
        pipeline = make_pipeline(client, idle)
        job = client.pipelines.run(pipeline.id)
        # when
        with pytest.raises(docc.WaitTimeout) as timed_out:
            job.wait(timeout=0.3)
        cancelled = job.cancel()
        # then
        assert timed_out.value.job.status == "pending"
        assert cancelled.status == "cancelled" and client.jobs.get(job.id).finished
        with pytest.raises(docc.Conflict):
            client.jobs.cancel(job.id)


async def test_the_async_client_runs_waits_and_follows(server):
    async with docc.AsyncClient(server.url, server.key) as client:
        # given
        dataset = await client.datasets.create(dataset_spec(server.files))
        pipeline = await client.pipelines.create(pipeline_spec(dataset.id, server.files))
        # when
        job = await client.pipelines.run(pipeline.id)
        stream = job.logs(follow=True)
        lines = [line async for line in stream]
        done = await job.wait(timeout=60)
        # then
        assert done.status == "succeeded" and stream.result.status == "succeeded"
        assert [line.seq for line in lines] == list(range(1, len(lines) + 1))
