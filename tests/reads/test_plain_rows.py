"""Reads through plain rows (server/models/rows.py) give what the ORM's model objects gave, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from resolvers import datasets, jobs
from resolvers.errors import NotFound
from resolvers.pagination import PageRequest, encode_cursor
from resolvers.principal import Principal
from resolvers.views.datasets import DATASET_COLUMNS, DatasetView
from resolvers.views.jobs import ATTEMPT_COLUMNS, JOB_COLUMNS, STEP_COLUMNS
from server.models.base import new_id
from server.models.datasets import Dataset
from server.models.engine import Job, JobAttempt, JobStep, Pipeline
from server.models.rows import plain_rows, plain_rows_by_id, plain_rows_in

WS, OTHER = "ws_default", "ws_other"
ADMIN = Principal(subject="key:t", workspace_id=WS, scopes=frozenset({"admin"}))
STAMP = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
PRECISE = datetime(2026, 3, 4, 5, 6, 7, 123, tzinfo=UTC)
FIELDS = [{"name": "id", "type": "integer", "nullable": False},
          {"name": "amount", "type": "decimal", "nullable": True, "precision": 10, "scale": 2},
          {"name": "tags", "type": "array", "nullable": True, "description": "labels", "items": "string",
           "sensitive": True}]

# A field stored before `nullable` was always written, its keys in another order.
LEGACY = {"type": "string", "description": None, "name": "legacy"}


async def _world() -> dict[str, str]:
    """Datasets (a database source with a password, a profiled one, a foreign one) and jobs of a live and of a
    deleted pipeline: finished with steps and attempts, pending with a next attempt, running with nothing."""
    db_source = {"type": "database", "connection": "postgresql://etl:hunter2@db:5432/w", "table": "t"}
    await Dataset.create(id="ds_plain1", workspace_id=WS, name="a", source_type="database", source=db_source,
                         schema_fields=FIELDS, tags=["x", "y"], created_at=STAMP)
    await Dataset.create(id="ds_plain2", workspace_id=WS, name="b", description="profiled", status="deprecated",
                         source_type="file", source={"type": "file", "path": "/d/b.csv", "format": "csv"},
                         schema_fields=[LEGACY], tags=[], quality_score=0.25, last_profiled=PRECISE, revision=7,
                         schema_version=3, compatibility="NONE", created_at=STAMP + timedelta(seconds=1))
    await Dataset.create(id="ds_plain3", workspace_id=OTHER, name="c", source_type="file",
                         source={"type": "file", "path": "/d/c.csv", "format": "csv"}, schema_fields=[], tags=[])
    live = await Pipeline.create(id="pl_live", workspace_id=WS, name="live", steps=[])
    gone = await Pipeline.create(id="pl_gone", workspace_id=WS, name="~pl_gone", deleted_name="gone", steps=[],
                                 deleted_at=STAMP)
    await Job.create(id="job_done", workspace_id=WS, pipeline=live, pipeline_version=2, steps=[], status="failed",
                     trigger="retry", retry_of="job_x", from_step="b", created_by="key:t", started_at=STAMP,
                     finished_at=PRECISE + timedelta(seconds=90), progress=0.6667, statistics={"rows": 3},
                     error="boom", cancel_requested=True, attempts=2, created_at=STAMP)
    await Job.create(id="job_wait", workspace_id=WS, pipeline=gone, pipeline_version=1, steps=[], status="pending",
                     run_after=PRECISE, waiting_for="a slot", created_at=STAMP + timedelta(seconds=1))
    await Job.create(id="job_run", workspace_id=WS, pipeline=live, pipeline_version=1, steps=[], status="running",
                     scheduled_for=STAMP, trigger="schedule", schedule_id="sch_1", created_at=STAMP + timedelta(2))
    await Job.create(id="job_foreign", workspace_id=OTHER, pipeline=live, pipeline_version=1, steps=[])
    await JobStep.bulk_create([
        JobStep(job_id="job_done", position=1, step_id="b", type="data_sink", status="failed", error="boom",
                started_at=PRECISE, finished_at=PRECISE),
        JobStep(job_id="job_done", position=0, step_id="a", type="data_source", status="succeeded", rows_in=10,
                rows_out=9, duration_s=1.5, started_at=STAMP, finished_at=PRECISE),
        JobStep(job_id="job_wait", position=0, step_id="a", type="data_source"),
    ])
    await JobAttempt.bulk_create([
        JobAttempt(job_id="job_done", number=2, status="failed", error="boom", started_at=PRECISE,
                   finished_at=PRECISE),
        JobAttempt(job_id="job_done", number=1, status="failed", error="first", started_at=STAMP),
    ])
    return {}


MODELS = {Dataset: ("workspace_id", *DATASET_COLUMNS), Job: JOB_COLUMNS, JobStep: STEP_COLUMNS,
          JobAttempt: ATTEMPT_COLUMNS, Pipeline: ("id", "deleted_at", "name", "deleted_name")}


@pytest.mark.parametrize("model", list(MODELS), ids=lambda m: m.__name__)
async def test_plain_rows_hold_the_values_the_orm_reads(db, model):
    # given rows with nulls, booleans both ways, floats, JSON, sealed sources and timestamps with and without
    # microseconds
    await _world()
    columns = MODELS[model]
    # when
    plain = await plain_rows(model.all().order_by("id" if "id" in columns else "started_at"), columns)
    through_orm = await model.all().order_by("id" if "id" in columns else "started_at").values_list(*columns)
    # then every value is equal and of the same type
    assert plain == through_orm
    assert [[type(v) for v in row] for row in plain] == [[type(v) for v in row] for row in through_orm]


async def test_plain_rows_in_and_by_id(db, statements):
    # given
    await _world()
    # when
    steps = await plain_rows_in(JobStep, ("job_id", "step_id"), "job_id", ["job_done", "job_wait", "job_none"],
                                order=("job_id", "position"))
    found = await plain_rows_by_id(Dataset, ("id", "name"), ["ds_plain2", "ds_missing"])
    before = len(statements)
    nothing = await plain_rows_in(JobStep, ("job_id",), "job_id", [])
    # then
    assert steps == [("job_done", "a"), ("job_done", "b"), ("job_wait", "a")]
    assert found == [("ds_plain2", "b")]
    assert nothing == [] and len(statements) == before


async def test_job_views_from_plain_rows_equal_those_from_models(db):
    # given
    await _world()
    ids = ["job_done", "job_wait", "job_run"]
    models = await Job.filter(id__in=ids).order_by("created_at")
    # when
    through_models = await jobs.views_of(models)
    page = await jobs.list_jobs(ADMIN, jobs.JobFilter(), PageRequest(limit=10))
    one_by_one = [await jobs.get_job(ADMIN, job_id) for job_id in ids]
    loaded = await jobs.get_jobs(ADMIN, [*ids, "job_foreign", "nope", "bad id!"])
    # then
    assert page.items == list(reversed(through_models)) and page.total == 3
    assert one_by_one == through_models
    assert loaded == [*through_models, None, None, None]
    done, wait, run = through_models
    assert [step.step_id for step in done.steps] == ["a", "b"] and [a.number for a in done.attempts] == [1, 2]
    assert done.duration_s == 90.000123 and done.percent_complete == 66.7 and done.cancel_requested is True
    assert done.steps[0].duration_s == 1.5 and done.steps[0].rows_in == 10 and done.claims == 2
    assert wait.pipeline_deleted is True and wait.next_attempt_at == PRECISE and wait.waiting_for == "a slot"
    assert run.scheduled_for == STAMP and run.cancel_requested is False and run.duration_s is None


async def test_dataset_views_from_plain_rows_equal_those_from_models(db):
    # given
    await _world()
    models = await Dataset.filter(workspace_id=WS).order_by("created_at")
    expected = [DatasetView.from_row(row) for row in models]
    # when
    page = await datasets.list_datasets(ADMIN, datasets.DatasetFilter(), PageRequest(limit=10))
    loaded = await datasets.get_datasets(ADMIN, ["ds_plain1", "ds_plain3", "ds_plain2", "ds_plain1"])
    one = await datasets.get_dataset(ADMIN, "ds_plain2")
    # then
    assert page.items == list(reversed(expected))
    assert loaded == [expected[0], None, expected[1], expected[0]]
    assert one == expected[1] and one.last_profiled == PRECISE and one.quality_score == 0.25
    assert expected[0].source.connection == "postgresql://etl:***@db:5432/w"
    # the stored spelling in one key order on every database (PostgreSQL's JSONB keeps its own order)
    assert [list(field.as_dict().items()) for field in expected[0].fields] == [list(f.items()) for f in FIELDS]


@pytest.mark.parametrize("read", [
    lambda: datasets.get_dataset(ADMIN, "ds_plain3"),
    lambda: datasets.get_dataset(ADMIN, "ds_missing"),
    lambda: datasets.get_dataset(ADMIN, "x" * 41),
    lambda: jobs.get_job(ADMIN, "job_foreign"),
    lambda: jobs.get_job(ADMIN, "job_missing"),
    lambda: jobs.get_job(ADMIN, "job/../x"),
], ids=["foreign dataset", "missing dataset", "overlong id", "foreign job", "missing job", "malformed id"])
async def test_an_object_of_another_workspace_or_none_is_not_found(db, read: Any):
    # given
    await _world()
    # when / then
    with pytest.raises(NotFound):
        await read()


async def test_rest_timestamps_are_the_same_text_on_both_databases_and_in_list_and_get(client):
    # given a dataset and a job with whole-second and microsecond timestamps (as stored by the server)
    await _world()
    # when
    listed = (await (await client.get("/api/v1/datasets")).json())["data"]
    got = await (await client.get("/api/v1/datasets/ds_plain2")).json()
    job_list = (await (await client.get("/api/v1/jobs")).json())["data"]
    job = await (await client.get("/api/v1/jobs/job_done")).json()
    # then the RFC 3339 text in UTC with a Z, microseconds only when there are any, whatever the database
    assert got == next(item for item in listed if item["id"] == "ds_plain2")
    assert (got["created_at"], got["last_profiled"]) == ("2026-03-04T05:06:08Z", "2026-03-04T05:06:07.000123Z")
    assert list(got["schema"]["fields"][0].items()) == [("name", "legacy"), ("type", "string"), ("nullable", True)]
    first = await (await client.get("/api/v1/datasets/ds_plain1")).json()
    assert [list(field.items()) for field in first["schema"]["fields"]] == [list(f.items()) for f in FIELDS]
    assert job == next(item for item in job_list if item["id"] == "job_done")
    assert (job["started_at"], job["finished_at"]) == ("2026-03-04T05:06:07Z", "2026-03-04T05:07:37.000123Z")
    assert job["steps"][0] == {"id": "a", "type": "data_source", "status": "succeeded", "rows_in": 10,
                               "rows_out": 9, "duration_s": 1.5, "error": None,
                               "started_at": "2026-03-04T05:06:07Z", "finished_at": "2026-03-04T05:06:07.000123Z"}
    assert [a["started_at"] for a in job["attempts"]] == ["2026-03-04T05:06:07Z", "2026-03-04T05:06:07.000123Z"]


GRAPHQL_TIMES = """query T($id: ID!, $job: ID!) { dataset(id: $id) { createdAt updatedAt lastProfiled }
  job(id: $job) { startedAt finishedAt steps { startedAt } } }"""


async def test_graphql_shows_the_same_instants_as_rest(client):
    # given
    await _world()
    rest_dataset = await (await client.get("/api/v1/datasets/ds_plain2")).json()
    rest_job = await (await client.get("/api/v1/jobs/job_done")).json()
    # when
    answer = await (await client.post("/graphql", json={"query": GRAPHQL_TIMES,
                                                         "variables": {"id": "ds_plain2", "job": "job_done"}})).json()
    # then
    def instant(text: str | None) -> datetime | None:
        return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))

    dataset, job = answer["data"]["dataset"], answer["data"]["job"]
    assert [instant(dataset[k]) for k in ("createdAt", "updatedAt", "lastProfiled")] == [
        instant(rest_dataset[k]) for k in ("created_at", "updated_at", "last_profiled")]
    assert [instant(dataset["createdAt"]), instant(dataset["lastProfiled"])] == [STAMP + timedelta(seconds=1), PRECISE]
    assert [instant(job["startedAt"]), instant(job["finishedAt"]), instant(job["steps"][1]["startedAt"])] == [
        STAMP, PRECISE + timedelta(seconds=90), PRECISE] == [
        instant(rest_job["started_at"]), instant(rest_job["finished_at"]), instant(rest_job["steps"][1]["started_at"])]


async def test_a_relation_is_named_by_its_column(db):
    with pytest.raises(ValueError, match="column"):
        await plain_rows_in(Job, ("id", "pipeline"), "id", ["job_x"])


async def test_a_new_id_reads_back(db):
    # given a dataset made the ordinary way, with timestamps the ORM set itself
    row = await Dataset.create(id=new_id("ds"), workspace_id=WS, name="now", source_type="file",
                               source={"type": "file", "path": "/d/n.csv", "format": "csv"}, schema_fields=[])
    # when
    view = await datasets.get_dataset(ADMIN, row.id)
    # then
    assert view == DatasetView.from_row(await Dataset.get(id=row.id))
    assert view.created_at.tzinfo is UTC


async def test_a_job_page_rebuilds_a_job_whose_step_attempt_or_pipeline_changed_and_reuses_the_others(db):
    # given: a page read once (each job's view kept by its stored rows)
    await _world()
    listed = jobs.LISTED_JOB
    first = {view.id: view for view in (await jobs.list_jobs(ADMIN, jobs.JobFilter(), PageRequest(limit=10))).items}
    # when: only a step's row changes (its job's row untouched), then read again
    await JobStep.filter(job_id="job_done", step_id="a").update(rows_out=99)
    hits = listed.cache_info().hits
    second = {view.id: view for view in (await jobs.list_jobs(ADMIN, jobs.JobFilter(), PageRequest(limit=10))).items}
    # then: that job is built anew with the change, the two others are the very views read before
    assert second["job_done"].steps[0].rows_out == 99 and second["job_done"] is not first["job_done"]
    assert second["job_wait"] is first["job_wait"] and second["job_run"] is first["job_run"]
    assert listed.cache_info().hits - hits == 2
    # when: an attempt is added to one job, and another job's pipeline is deleted
    await JobAttempt.create(job_id="job_run", number=1, status="running", started_at=STAMP)
    await Pipeline.filter(id="pl_live").update(deleted_at=STAMP)
    third = {view.id: view for view in (await jobs.list_jobs(ADMIN, jobs.JobFilter(), PageRequest(limit=10))).items}
    # then
    assert [attempt.number for attempt in third["job_run"].attempts] == [1]
    assert third["job_run"].pipeline_deleted is True and third["job_done"].pipeline_deleted is True
    assert third["job_wait"] is first["job_wait"]


@pytest.mark.parametrize("filters", [
    jobs.JobFilter(), jobs.JobFilter(pipeline_id="pl_live"), jobs.JobFilter(status="failed"),
    jobs.JobFilter(trigger="schedule"), jobs.JobFilter(pipeline_id="pl_live", status="running"),
    jobs.JobFilter(pipeline_id="pl_gone", trigger="manual"), jobs.JobFilter(status="succeeded"),
], ids=lambda f: ",".join(f"{k}={v}" for k, v in vars(f).items() if v) or "none")
async def test_a_job_page_of_equal_filters_is_the_page_the_orm_gives(db, filters, statements):
    # given: the jobs, and the same filters with a time bound that holds for all of them (the ORM's path)
    await _world()
    bounded = jobs.JobFilter(**{**vars(filters), "created_after": STAMP - timedelta(days=1)})
    for request in (PageRequest(limit=10), PageRequest(limit=1), PageRequest(limit=1, offset=1),
                    PageRequest(limit=2, offset=5)):
        # when
        statements.clear()
        fast = await jobs.list_jobs(ADMIN, filters, request)
        fast_sql = list(statements)
        orm = await jobs.list_jobs(ADMIN, bounded, request)
        # then: the same page, and the equal filters sent statements built once (plain table and column
        # names: the ORM's builder would have aliased or qualified them differently)
        assert (fast.items, fast.total, fast.has_next, fast.offset) == (orm.items, orm.total, orm.has_next,
                                                                         orm.offset)
        assert any(sql.startswith('SELECT COUNT(*) FROM "jobs" WHERE "workspace_id" = ') for sql in fast_sql), fast_sql
        # and it is the page the filters name, read through the ORM here
        named = Job.filter(workspace_id=WS, **{name: value for name, value in vars(filters).items() if value})
        expected = await named.order_by("-created_at", "-id").offset(request.offset).limit(request.limit)
        assert [view.id for view in fast.items] == [job.id for job in expected]
        assert fast.total == await named.count()
    # and a cursor page still goes through the ORM, with the same rows
    first = await jobs.list_jobs(ADMIN, filters, PageRequest(limit=1))
    if first.items:
        cursor = encode_cursor(first.items[0])
        after = await jobs.list_jobs(ADMIN, filters, PageRequest(limit=5, after=cursor))
        assert after.items == (await jobs.list_jobs(ADMIN, filters, PageRequest(limit=5, offset=1))).items
