"""GraphQL jobs: log subscriptions over both websocket protocols, retryJob, and parity with REST."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from server.engine.journal import Journal
from server.engine.service import EVENT_BUS
from server.models.engine import Job

LOGS = """subscription ($id: ID!, $after: Int!) {
  jobLogs(jobId: $id, after: $after) {
    __typename
    ... on JobLogLine { seq message stepId }
    ... on JobFinished { job { id status steps { stepId status } } }
  }
}"""
RUN = """mutation ($id: ID!, $key: String) {
  runPipeline(pipelineId: $id, idempotencyKey: $key) { __typename ... on JobSuccess { job { id status trigger } } }
}"""
RETRY = """mutation ($id: ID!, $from: Boolean!) {
  retryJob(id: $id, fromFailedStep: $from) {
    __typename
    ... on JobSuccess { job { id trigger retryOf fromStep steps { stepId status } } }
    ... on Error { code message }
  }
}"""
CREATE = """mutation ($input: CreatePipelineInput!) {
  createPipeline(input: $input) {
    __typename
    ... on PipelineSuccess { pipeline { id name version steps { id type config } schedule { cron timezone paused } } }
    ... on ValidationError { code field reason }
  }
}"""
PIPELINE = "query ($id: ID!) { pipeline(id: $id) { id name version schedule { cron } datasets { id } } }"
CANCEL = "mutation ($id: ID!) { cancelJob(id: $id) { __typename ... on Error { code } } }"


async def gql(client, query: str, **variables) -> dict:
    resp = await client.post("/graphql", json={"query": query, "variables": variables})
    body = await resp.json()
    assert "errors" not in body, body
    return body["data"]


@pytest.fixture
async def quiet_client(start_app, settings):
    """An app that runs no jobs itself: the tests write a job's journal by hand."""
    return await start_app(replace(settings, run_jobs=False, run_schedules=False))


async def make_pipeline(client, tmp_path, sink: dict | None = None) -> tuple[str, str]:
    (tmp_path / "in.csv").write_text("id,name\n1,Ann\n1,Ann\n2,Bob\n")
    resp = await client.post("/api/v1/datasets", json={"name": "people", "source": {"type": "file",
                                                                                    "path": str(tmp_path / "in.csv")}})
    dataset_id = (await resp.json())["id"]
    steps = [{"id": "input", "type": "data_source", "config": {"dataset_id": dataset_id}},
             {"id": "clean", "type": "data_cleaner", "config": {"remove_duplicates": True}},
             {"id": "output", "type": "data_sink", "config": sink or {"path": str(tmp_path / "out.csv")}}]
    data = await gql(client, CREATE, input={"name": "people_clean", "steps": steps})
    return data["createPipeline"]["pipeline"]["id"], dataset_id


async def receive(ws, kind: str) -> dict:
    while True:
        message = await asyncio.wait_for(ws.receive_json(), 10)
        if message["type"] != "ka":
            assert message["type"] in {kind, "complete"}, message
            return message


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_job_logs_subscription_gets_stored_then_live_lines_and_the_end(quiet_client, tmp_path, protocol):
    # given a running job with two stored lines
    client = quiet_client
    pipeline_id, _ = await make_pipeline(client, tmp_path)
    job_id = (await gql(client, RUN, id=pipeline_id))["runPipeline"]["job"]["id"]
    await Job.filter(id=job_id).update(status="running")
    journal = Journal(job_id, bus=client.app[EVENT_BUS])  # The app's own bus, as its executor would use.
    await journal.log("info", None, "one")
    await journal.log("info", "input", "two")
    nxt = "next" if protocol == "graphql-transport-ws" else "data"
    async with client.ws_connect("/graphql", protocols=[protocol]) as ws:
        await ws.send_json({"type": "connection_init", "payload": {"authorization": client.headers["Authorization"]}})
        await receive(ws, "connection_ack")
        start = "subscribe" if protocol == "graphql-transport-ws" else "start"
        await ws.send_json({"id": "1", "type": start, "payload": {"query": LOGS,
                                                                  "variables": {"id": job_id, "after": 0}}})
        stored = [(await receive(ws, nxt))["payload"]["data"]["jobLogs"] for _ in range(2)]
        # when more lines are written live and the job ends
        await journal.log("info", "clean", "three")
        await journal.update_job(status="succeeded")
        live = (await receive(ws, nxt))["payload"]["data"]["jobLogs"]
        end = (await receive(ws, nxt))["payload"]["data"]["jobLogs"]
        complete = await receive(ws, "complete")
    # then every line came once, in order, then the final message and the end of the stream
    assert [(m["seq"], m["message"]) for m in [*stored, live]] == [(1, "one"), (2, "two"), (3, "three")]
    assert end["__typename"] == "JobFinished" and end["job"]["status"] == "SUCCEEDED"
    assert complete["type"] == "complete"


async def test_retry_from_the_failed_step_skips_sinks_already_written(quiet_client, tmp_path):
    # given a failed job whose first sink succeeded and whose second one failed
    client = quiet_client
    (tmp_path / "in.csv").write_text("id\n1\n")
    dataset_id = (await (await client.post("/api/v1/datasets", json={
        "name": "ids", "source": {"type": "file", "path": str(tmp_path / "in.csv")}})).json())["id"]
    steps = [{"id": "input", "type": "data_source", "config": {"dataset_id": dataset_id}},
             {"id": "first", "type": "data_sink", "config": {"path": str(tmp_path / "a.csv")}},
             {"id": "second", "type": "data_sink", "config": {"path": str(tmp_path / "b.csv")}}]
    pipeline_id = (await gql(client, CREATE, input={"name": "two_sinks", "steps": steps}))["createPipeline"][
        "pipeline"]["id"]
    job_id = (await gql(client, RUN, id=pipeline_id))["runPipeline"]["job"]["id"]
    journal = Journal(job_id, bus=client.app[EVENT_BUS])  # The app's own bus, as its executor would use.
    await journal.step("input", status="succeeded")
    await journal.step("first", status="succeeded")
    await journal.step("second", status="failed", error="disk full")
    await Job.filter(id=job_id).update(status="failed")
    # when
    retried = (await gql(client, RETRY, id=job_id, **{"from": True}))["retryJob"]
    again = (await gql(client, RETRY, id=retried["job"]["id"], **{"from": True}))["retryJob"]
    # then
    assert retried["__typename"] == "JobSuccess"
    job = retried["job"]
    assert (job["trigger"], job["retryOf"], job["fromStep"]) == ("RETRY", job_id, "second")
    assert [(s["stepId"], s["status"]) for s in job["steps"]] == [
        ("input", "pending"), ("first", "skipped"), ("second", "pending")]
    row = await Job.get(id=job["id"])
    assert [s["id"] for s in row.steps] == ["input", "second"] and row.steps[1]["depends_on"] == ["input"]
    assert again["__typename"] == "ConflictError"


async def test_graphql_and_rest_show_the_same_pipeline_and_job(quiet_client, tmp_path):
    # given
    client = quiet_client
    pipeline_id, dataset_id = await make_pipeline(client, tmp_path)
    job_id = (await gql(client, RUN, id=pipeline_id, key="same"))["runPipeline"]["job"]["id"]
    # when
    rest_pipeline = await (await client.get(f"/api/v1/pipelines/{pipeline_id}")).json()
    graph_pipeline = (await gql(client, PIPELINE, id=pipeline_id))["pipeline"]
    rest_again = await (await client.post(f"/api/v1/pipelines/{pipeline_id}/run",
                                          headers={"Idempotency-Key": "same"})).json()
    cancelled = (await gql(client, CANCEL, id=job_id))["cancelJob"]
    rest_job = await (await client.get(f"/api/v1/jobs/{job_id}")).json()
    # then
    assert (graph_pipeline["id"], graph_pipeline["name"], graph_pipeline["version"]) == (
        rest_pipeline["id"], rest_pipeline["name"], rest_pipeline["version"])
    assert graph_pipeline["datasets"] == [{"id": dataset_id}]
    assert rest_again["id"] == job_id
    assert cancelled["__typename"] == "JobSuccess" and rest_job["status"] == "cancelled"


async def test_graphql_refusals_are_typed_errors(quiet_client, tmp_path):
    # given
    client = quiet_client
    # when
    bad = (await gql(client, CREATE, input={"name": "x", "steps": [{"id": "a", "type": "nope"}],
                                            "schedule": {"cron": "0 2 * * *"}}))["createPipeline"]
    unknown = (await gql(client, CANCEL, id="job_nope"))["cancelJob"]
    # then
    assert bad == {"__typename": "ValidationError", "code": "VALIDATION_ERROR", "field": "steps[0].type",
                   "reason": "Unknown step type"}
    assert unknown == {"__typename": "NotFoundError", "code": "NOT_FOUND"}
