"""GraphQL: a mutation is refused before it runs when its selection needs a scope the caller lacks;
write-only callers select the acknowledgement fields instead. State is read back as admin each time."""

from __future__ import annotations

from typing import Any

import pytest

from tests.auth.world import World, build_world
from tests.conftest import Caller

UPDATE_PIPELINE = """mutation ($id: ID!) { updatePipeline(id: $id, input: {description: "changed"}) {
  __typename ... on PipelineSuccess { %s } } }"""
RUN = "mutation ($id: ID!) { runPipeline(pipelineId: $id) { __typename ... on JobSuccess { %s } } }"
CANCEL = "mutation ($id: ID!) { cancelJob(id: $id) { __typename ... on JobSuccess { %s } } }"
RETRY = "mutation ($id: ID!) { retryJob(id: $id) { __typename ... on JobSuccess { %s } } }"
SCHEDULE = """mutation ($id: ID!) { schedulePipeline(pipelineId: $id, schedule: {cron: "15 3 * * *"}) {
  __typename ... on ScheduleSuccess { %s } } }"""
PAUSE = "mutation ($id: ID!) { pauseSchedule(pipelineId: $id) { __typename ... on ScheduleSuccess { %s } } }"
UPDATE_DATASET = """mutation ($id: ID!) { updateDataset(id: $id, input: {description: "new"}) {
  __typename ... on UpdateDatasetSuccess { %s } } }"""


@pytest.fixture
async def world(start_app, settings, tmp_path) -> World:
    return await build_world(start_app, settings, tmp_path)


async def gql(caller: Caller, query: str, **variables: Any) -> dict[str, Any]:
    resp = await caller.post("/graphql", json={"query": query, "variables": variables})
    assert resp.status == 200, await resp.text()
    return await resp.json()


def refused(body: dict[str, Any], scope: str) -> None:
    """The operation did not run at all: no data, one FORBIDDEN error naming the scope."""
    assert body.get("data") is None, body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert body["errors"][0]["extensions"]["details"]["required_scope"] == scope


async def test_update_pipeline_selecting_the_object_without_read_is_refused_before_the_write(world: World):
    # when
    body = await gql(world.keys["pipeline_writer"], UPDATE_PIPELINE % "pipeline { id description }",
                     id=world.pipeline_id)
    # then
    refused(body, "read:pipelines")
    pipeline = await world.get(f"/api/v1/pipelines/{world.pipeline_id}")
    assert (pipeline["version"], pipeline["description"]) == (1, "")


async def test_update_pipeline_acknowledges_id_and_version(world: World):
    body = await gql(world.keys["pipeline_writer"], UPDATE_PIPELINE % "pipelineId version", id=world.pipeline_id)
    assert body["data"]["updatePipeline"] == {"__typename": "PipelineSuccess", "pipelineId": world.pipeline_id,
                                              "version": 2}
    assert (await world.get(f"/api/v1/pipelines/{world.pipeline_id}"))["description"] == "changed"


async def test_run_pipeline_selecting_the_job_without_read_jobs_creates_no_job(world: World):
    # given
    before = await world.jobs()
    # when the job is asked for directly, through a named fragment, and through a nested inline fragment
    named = """mutation ($id: ID!) { runPipeline(pipelineId: $id) { ...J } }
               fragment J on JobSuccess { jobId job { status } }"""
    for query in (RUN % "job { id }", named, RUN % "... on JobSuccess { job { id } }"):
        refused(await gql(world.keys["pipeline_writer"], query, id=world.pipeline_id), "read:jobs")
    # then
    assert await world.jobs() == before


async def test_run_and_retry_acknowledge_id_and_status(world: World):
    # when
    run = await gql(world.keys["pipeline_writer"], RUN % "jobId status", id=world.pipeline_id)
    # then
    job = run["data"]["runPipeline"]
    assert job["status"] == "PENDING" and job["jobId"].startswith("job_")
    assert (await world.get(f"/api/v1/jobs/{job['jobId']}"))["status"] == "pending"
    # and a finished job is retried the same way
    cancelled = await gql(world.keys["pipeline_writer"], CANCEL % "jobId status", id=job["jobId"])
    assert cancelled["data"]["cancelJob"] == {"__typename": "JobSuccess", "jobId": job["jobId"],
                                              "status": "CANCELLED"}
    retry = (await gql(world.keys["pipeline_writer"], RETRY % "jobId status", id=job["jobId"]))["data"]["retryJob"]
    assert retry["status"] == "PENDING"
    assert (await world.get(f"/api/v1/jobs/{retry['jobId']}"))["retry_of"] == job["jobId"]


async def test_cancel_selecting_the_job_without_read_jobs_leaves_the_job_running(world: World):
    body = await gql(world.keys["pipeline_writer"], CANCEL % "job { status }", id=world.job_id)
    refused(body, "read:jobs")
    assert (await world.get(f"/api/v1/jobs/{world.job_id}"))["status"] == "pending"


async def test_pause_schedule_selecting_the_schedule_without_read_changes_nothing(world: World):
    writer = world.keys["pipeline_writer"]
    refused(await gql(writer, PAUSE % "schedule { cron }", id=world.pipeline_id), "read:pipelines")
    assert (await world.get(f"/api/v1/pipelines/{world.pipeline_id}"))["schedule"]["paused"] is False
    acked = await gql(writer, PAUSE % "pipelineId paused", id=world.pipeline_id)
    assert acked["data"]["pauseSchedule"]["paused"] is True
    assert (await world.get(f"/api/v1/pipelines/{world.pipeline_id}"))["schedule"]["paused"] is True


async def test_schedule_pipeline_selecting_the_pipeline_without_read_changes_nothing(world: World):
    writer = world.keys["pipeline_writer"]
    refused(await gql(writer, SCHEDULE % "pipeline { id schedule { cron } }", id=world.pipeline_id),
            "read:pipelines")
    assert (await world.get(f"/api/v1/pipelines/{world.pipeline_id}"))["schedule"]["cron"] == "0 2 * * *"
    acked = await gql(writer, SCHEDULE % "pipelineId paused", id=world.pipeline_id)
    assert acked["data"]["schedulePipeline"] == {"__typename": "ScheduleSuccess", "pipelineId": world.pipeline_id,
                                                 "paused": False}
    assert (await world.get(f"/api/v1/pipelines/{world.pipeline_id}"))["schedule"]["cron"] == "15 3 * * *"


async def test_update_dataset_without_read_datasets(world: World):
    writer = world.keys["dataset_writer"]
    # when the object is asked for, the write does not happen
    refused(await gql(writer, UPDATE_DATASET % "dataset { name source { path } }", id=world.dataset_id),
            "read:datasets")
    assert (await world.get(f"/api/v1/datasets/{world.dataset_id}"))["description"] == ""
    # and the acknowledgement is all a write-only key gets
    acked = await gql(writer, UPDATE_DATASET % "datasetId status revision", id=world.dataset_id)
    assert acked["data"]["updateDataset"] == {"__typename": "UpdateDatasetSuccess", "datasetId": world.dataset_id,
                                              "status": "ACTIVE", "revision": 2}
    assert (await world.get(f"/api/v1/datasets/{world.dataset_id}"))["description"] == "new"


async def test_one_refused_field_refuses_every_mutation_of_the_operation(world: World):
    # given an operation whose first field is allowed and whose second is not
    query = """mutation ($p: ID!) {
      first: updatePipeline(id: $p, input: {description: "first"}) { __typename }
      second: runPipeline(pipelineId: $p) { ... on JobSuccess { job { id } } } }"""
    before = await world.jobs()
    # when
    body = await gql(world.keys["pipeline_writer"], query, p=world.pipeline_id)
    # then neither ran
    refused(body, "read:jobs")
    assert (await world.get(f"/api/v1/pipelines/{world.pipeline_id}"))["version"] == 1
    assert await world.jobs() == before


async def test_a_key_without_the_write_scope_is_refused_before_any_effect(world: World):
    body = await gql(world.keys["writer_only"], RUN % "jobId", id=world.pipeline_id)
    refused(body, "run:pipelines")
    assert len(await world.jobs()) == 1


async def test_skipped_fields_need_no_scope(world: World):
    query = """mutation ($id: ID!, $full: Boolean!) { updatePipeline(id: $id, input: {description: "x"}) {
      ... on PipelineSuccess { version pipeline @include(if: $full) { name } } } }"""
    body = await gql(world.keys["pipeline_writer"], query, id=world.pipeline_id, full=False)
    assert body["data"]["updatePipeline"] == {"version": 2}
