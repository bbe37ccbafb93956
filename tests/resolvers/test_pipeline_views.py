"""Read models of pipelines and jobs: built once, frozen, and a list costs the same queries whatever its length."""

from __future__ import annotations

import dataclasses
import logging
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest

from resolvers import jobs, pipelines, schedules
from resolvers.pagination import PageRequest
from resolvers.views.jobs import JOB_STATUSES, TRIGGERS
from resolvers.views.pipelines import ScheduleView, next_runs
from server.models.engine import Schedule
from tests.engine.helpers import PRINCIPAL, TEST_POLICY, clean_steps, csv_dataset, write_csv


class Queries(logging.Handler):
    """Counts the statements Tortoise sends to the database (it logs each one on `tortoise.db_client`)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


@contextmanager
def counting():
    handler, logger = Queries(), logging.getLogger("tortoise.db_client")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


async def scheduled_pipelines(tmp_path, count: int) -> list[str]:
    dataset_id = await csv_dataset(write_csv(str(tmp_path / "in.csv")))
    made = []
    for i in range(count):
        spec = pipelines.PipelineCreate(name=f"p{i}", steps=clean_steps(dataset_id, {"path": str(tmp_path / "o.csv")}),
                                        schedule=schedules.ScheduleSpec(cron="0 2 * * *", paused=i % 2 == 1))
        made.append((await pipelines.create_pipeline(PRINCIPAL, spec, policy=TEST_POLICY)).id)
    return made


async def test_a_page_of_pipelines_with_schedules_costs_the_same_queries_for_2_or_12(db, tmp_path):
    # given twelve scheduled pipelines, every other one paused
    await scheduled_pipelines(tmp_path, 12)
    everything = pipelines.PipelineFilter()
    # when
    with counting() as small:
        two = await pipelines.list_pipelines(PRINCIPAL, everything, PageRequest(limit=2))
    with counting() as large:
        twelve = await pipelines.list_pipelines(PRINCIPAL, everything, PageRequest(limit=12))
    # then every pipeline came with its schedule, in the same number of queries
    assert len(two.items) == 2 and len(twelve.items) == 12
    assert 0 < small.count == large.count
    assert all(view.schedule is not None and view.schedule.pipeline_id == view.id for view in twelve.items)
    assert sorted(len(view.schedule.next_runs) for view in twelve.items) == [0] * 6 + [5] * 6


async def test_a_page_of_jobs_with_steps_costs_the_same_queries_for_2_or_12(db, tmp_path, statements):
    # given twelve queued jobs of a three-step pipeline
    [pipeline_id] = await scheduled_pipelines(tmp_path, 1)
    for _ in range(12):
        await jobs.run_pipeline(PRINCIPAL, pipeline_id)
    # when (statements counted through the ORM and the point reader alike)
    before = len(statements)
    two = await jobs.list_jobs(PRINCIPAL, jobs.JobFilter(), PageRequest(limit=2))
    small = len(statements) - before
    twelve = await jobs.list_jobs(PRINCIPAL, jobs.JobFilter(), PageRequest(limit=12))
    large = len(statements) - before - small
    # then each job came with its own steps in order, in the same number of queries
    assert 0 < small == large
    assert [len(two.items), len(twelve.items)] == [2, 12]
    assert {tuple(step.step_id for step in view.steps) for view in twelve.items} == {("input", "clean", "output")}
    assert {view.percent_complete for view in twelve.items} == {0.0}


async def test_a_new_job_is_answered_with_its_steps_without_reading_them_back(db, tmp_path):
    # given
    [pipeline_id] = await scheduled_pipelines(tmp_path, 1)
    # when
    made = await jobs.run_pipeline(PRINCIPAL, pipeline_id)
    # then the answer matches what a later read finds
    assert made == await jobs.get_job(PRINCIPAL, made.id)
    assert [(s.step_id, s.status) for s in made.steps] == [("input", "pending"), ("clean", "pending"),
                                                           ("output", "pending")]


async def test_views_are_frozen(db, tmp_path):
    # given
    [pipeline_id] = await scheduled_pipelines(tmp_path, 1)
    view = await pipelines.get_pipeline(PRINCIPAL, pipeline_id)
    # when / then
    with pytest.raises(dataclasses.FrozenInstanceError):
        view.name = "renamed"  # type: ignore[misc]
    assert view.schedule is not None and view.dataset_ids and view.dataset_ids[0].startswith("ds_")


def test_next_runs_are_computed_from_the_given_instant():
    # given
    now = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    # when
    runs = next_runs("0 2 * * *", "UTC", 2, now=now)
    # then
    assert runs == [datetime(2025, 6, 2, 2, 0, tzinfo=UTC), datetime(2025, 6, 3, 2, 0, tzinfo=UTC)]


def test_a_schedule_view_counts_its_next_runs_from_its_instant_once():
    # given a schedule read at a known instant
    as_of = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    row = Schedule(id="sch_1", workspace_id="ws_default", pipeline_id="pl_1", cron="0 2 * * *", timezone="UTC",
                   paused=False)
    view = ScheduleView.from_row(row, now=as_of)
    # when
    first, again = view.next_runs, view.next_runs
    # then
    assert first[:2] == (datetime(2025, 6, 2, 2, 0, tzinfo=UTC), datetime(2025, 6, 3, 2, 0, tzinfo=UTC))
    assert len(first) == 5 and again is first
    # and a paused schedule has none
    row.paused = True
    assert ScheduleView.from_row(row, now=as_of).next_runs == ()


def test_the_graphql_enums_are_the_domain_lists():
    # given the schema's enums of jobs
    from schema.pipelines import JobStatus, JobTrigger

    # then they hold the domain's values, in its order
    assert [member.value for member in JobStatus] == list(JOB_STATUSES)
    assert [member.value for member in JobTrigger] == list(TRIGGERS)
