"""Writer leases and a job that died while publishing: its destinations stay held until its plan is finished."""

from __future__ import annotations

from datetime import timedelta

from resolvers import jobs
from server.engine import writers
from server.engine.leases import utcnow
from server.models.engine import DestinationLease, Job, StagedWrite

from .helpers import PRINCIPAL, csv_dataset, pipeline, write_csv

KEYS = {"k" * 64: "sqlite:warehouse.db:customers"}


async def _two_jobs(tmp_path) -> tuple[str, str]:
    dataset_id = await csv_dataset(write_csv(str(tmp_path / "in.csv")))
    pipeline_id = await pipeline(dataset_id, {"path": str(tmp_path / "out.csv")})
    first = await jobs.run_pipeline(PRINCIPAL, pipeline_id)
    second = await jobs.run_pipeline(PRINCIPAL, pipeline_id)
    return first.id, second.id


async def _died_while_publishing(job_id: str) -> None:
    """The job holds the destination, ended failed, and one decided write is not published yet."""
    assert await writers.acquire(job_id, KEYS, 60) is None
    await Job.filter(id=job_id).update(status="failed")
    await StagedWrite.create(job_id=job_id, step_id="output", key="x_1", state="publishing",
                             name="_docc_staging_x_1_0123abcd")


async def test_a_holder_that_ended_holds_nothing(db, tmp_path):
    first, second = await _two_jobs(tmp_path)
    await Job.filter(id=first).update(status="running")
    assert await writers.acquire(first, KEYS, 60) is None
    assert await writers.acquire(second, KEYS, 60) == (KEYS["k" * 64], first)
    await Job.filter(id=first).update(status="failed")
    assert await writers.acquire(second, KEYS, 60) is None
    assert (await DestinationLease.get(key="k" * 64)).job_id == second


async def test_a_job_that_died_while_publishing_keeps_its_destinations_until_its_plan_is_done(db, tmp_path):
    # given a job that died between its decision and the last swap, its lease expired too
    first, second = await _two_jobs(tmp_path)
    await _died_while_publishing(first)
    await DestinationLease.filter(job_id=first).update(expires_at=utcnow() - timedelta(minutes=5))
    # then nobody may take the destination over, and letting go is refused while the plan is open
    assert await writers.acquire(second, KEYS, 60) == (KEYS["k" * 64], first)
    assert await writers.release(first) is False
    assert (await DestinationLease.get(key="k" * 64)).job_id == first
    # when the rest is published (the sweep or the job's recovery deletes the rows) and the holder lets go
    await StagedWrite.filter(job_id=first).delete()
    assert await writers.release(first) is True
    # then the next job writes
    assert await writers.acquire(second, KEYS, 60) is None
    assert (await DestinationLease.get(key="k" * 64)).job_id == second


async def test_staged_writes_that_were_never_decided_do_not_hold_the_destination(db, tmp_path):
    first, second = await _two_jobs(tmp_path)
    assert await writers.acquire(first, KEYS, 60) is None
    await Job.filter(id=first).update(status="failed")
    await StagedWrite.create(job_id=first, step_id="output", key="x_1", state="staging")
    assert await writers.release(first) is True
    assert await writers.acquire(second, KEYS, 60) is None
