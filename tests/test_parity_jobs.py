"""A real pipeline run through REST and through GraphQL: the same job, steps, progress, logs and refusals."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import orjson
import polars as pl
import pytest

from tests.graphql.helpers import gql
from tests.graphql.helpers import wait_job as wait_graphql_job
from tests.parity import (
    enum,
    error_fields,
    field,
    gql_data,
    instant,
    narrow_key,
    pick,
    refusal,
    rest,
    rest_ok,
)
from tests.rest.test_pipelines import wait_job as wait_rest_job

STEP_FIELDS = "stepId type status rowsIn rowsOut durationSeconds error startedAt finishedAt"
LINE_FIELDS = "seq time level stepId message"
JOB_FIELDS = f"""id status trigger pipelineId pipelineVersion retryOf fromStep scheduledFor createdBy createdAt
    startedAt finishedAt percentComplete statistics error cancelRequested claims waitingFor nextAttemptAt
    attempts {{ number status error startedAt finishedAt }} steps {{ {STEP_FIELDS} }}"""
RUN_ERRORS = error_fields("NotFoundError", "ValidationError", "ConflictError")
CANCEL_ERRORS = error_fields("NotFoundError", "ConflictError")
RUN = f"""mutation ($id: ID!, $key: String) {{
  runPipeline(pipelineId: $id, idempotencyKey: $key) {{ {RUN_ERRORS} ... on JobSuccess {{ job {{ {JOB_FIELDS} }} }} }}
}}"""
CANCEL = f"""mutation ($id: ID!) {{
  cancelJob(id: $id) {{ {CANCEL_ERRORS} ... on JobSuccess {{ job {{ {JOB_FIELDS} }} }} }} }}"""
JOB = f"query ($id: ID!) {{ job(id: $id) {{ {JOB_FIELDS} logs {{ {LINE_FIELDS} }} }} }}"
JOBS = f"""query ($filter: JobFilter) {{
  jobs(first: 50, filter: $filter) {{ totalCount nodes {{ {JOB_FIELDS} }} }} }}"""
LOGS = f"""query ($id: ID!, $after: Int, $tail: Int, $limit: Int! = 1000) {{
  jobLogs(jobId: $id, after: $after, tail: $tail, limit: $limit) {{
    lines {{ {LINE_FIELDS} }} nextAfter finished }} }}"""
LOGS_SINCE = f"""query ($id: ID!, $since: DateTime) {{
  jobLogs(jobId: $id, since: $since) {{ lines {{ {LINE_FIELDS} }} nextAfter finished }} }}"""

# One exact duplicate: the cleaner passes two of three rows on.
PEOPLE = pl.DataFrame({"id": [1, 1, 2], "name": ["Ann", "Ann", "Bob"]})


def step(entry: dict[str, Any]) -> dict[str, Any]:
    """A job step in one spelling: REST's `id`/`duration_s` are GraphQL's `stepId`/`durationSeconds`."""
    return {"id": entry["id"] if "id" in entry else entry["stepId"],
            "duration_s": entry["duration_s"] if "duration_s" in entry else entry["durationSeconds"],
            **pick(entry, "type", "status", "rows_in", "rows_out", "error"),
            "started_at": instant(field(entry, "started_at")), "finished_at": instant(field(entry, "finished_at"))}


def comparable(job: dict[str, Any]) -> dict[str, Any]:
    """Every field both surfaces show of a job, in one spelling (enums lower case, times as datetimes)."""
    return {
        **pick(job, "id", "pipeline_id", "pipeline_version", "retry_of", "from_step", "created_by",
               "percent_complete", "statistics", "error", "cancel_requested", "claims", "waiting_for"),
        "next_attempt_at": instant(field(job, "next_attempt_at")),
        "attempts": [(a["number"], enum(a["status"]), a["error"], instant(field(a, "started_at")),
                      instant(field(a, "finished_at"))) for a in job["attempts"]],
        "status": enum(job["status"]), "trigger": enum(job["trigger"]),
        **{name: instant(field(job, name)) for name in ("scheduled_for", "created_at", "started_at", "finished_at")},
        "steps": [step(s) for s in job["steps"]],
    }


def shape(job: dict[str, Any]) -> dict[str, Any]:
    """What two runs of one pipeline share: all but identity, times and durations."""
    whole = comparable(job)
    return {**{k: v for k, v in whole.items() if k not in {"id", "created_at", "started_at", "finished_at"}},
            "statistics": {k: v for k, v in whole["statistics"].items() if "duration" not in k},
            "steps": [pick(s, "id", "type", "status", "rows_in", "rows_out", "error") for s in whole["steps"]],
            "attempts": [attempt[:3] for attempt in whole["attempts"]]}


def line(entry: dict[str, Any]) -> dict[str, Any]:
    return {**pick(entry, "seq", "level", "step_id", "message"), "time": instant(entry["time"])}


def outcome(status: int, body: dict[str, Any]) -> tuple[Any, ...]:
    """What a list or log read came to on either surface: its refusal, or the ids (or seqs) it answered."""
    if status >= 400 or "errors" in body:
        return ("refused", *refusal(body))
    items = body["data"] if isinstance(body["data"], list) else next(iter(body["data"].values()))
    if isinstance(items, dict):
        items = items["nodes"] if "nodes" in items else items["lines"]
    return ("answered", [item["id"] if "id" in item else item["seq"] for item in items])


@dataclass
class QuietJob:
    caller: Any
    id: str


@pytest.fixture
async def quiet_job(start_app, settings, tmp_path) -> QuietJob:
    """A pending job of an app that runs no jobs itself: it stays as it is while a test reads it."""
    caller = await start_app(replace(settings, run_jobs=False, run_schedules=False))
    pipeline_id = await make_pipeline(caller, tmp_path)
    return QuietJob(caller, (await rest_ok(caller, "POST", f"/pipelines/{pipeline_id}/run"))["id"])


async def make_pipeline(client, tmp_path) -> str:
    PEOPLE.write_csv(tmp_path / "people.csv")
    dataset = await rest_ok(client, "POST", "/datasets", {"name": "people", "source": {
        "type": "file", "path": str(tmp_path / "people.csv")}})
    made = await rest_ok(client, "POST", "/pipelines", {"name": "people_clean", "steps": [
        {"id": "input", "type": "data_source", "config": {"dataset_id": dataset["id"]}},
        {"id": "clean", "type": "data_cleaner", "config": {"remove_duplicates": True}},
        {"id": "output", "type": "data_sink", "config": {"path": str(tmp_path / "out.csv")}}]})
    return made["id"]


async def read_both(client, job_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The job through each surface; they must agree on every field they share."""
    by_rest = await rest_ok(client, "GET", f"/jobs/{job_id}")
    by_graphql = (await gql_data(client, JOB, {"id": job_id}))["job"]
    assert comparable(by_rest) == comparable(by_graphql)
    return by_rest, by_graphql


async def test_a_run_through_each_surface_ends_in_the_same_job_steps_and_logs(client, tmp_path):
    # given
    pipeline_id = await make_pipeline(client, tmp_path)
    # when one run is started and followed through REST, then another through GraphQL
    started_rest = await rest_ok(client, "POST", f"/pipelines/{pipeline_id}/run")
    assert (await wait_rest_job(client, started_rest["id"]))["status"] == "succeeded"
    started_graphql = (await gql_data(client, RUN, {"id": pipeline_id}))["runPipeline"]["job"]
    assert await wait_graphql_job(client, started_graphql["id"]) == "SUCCEEDED"
    # then both started alike, and both ended alike: job, steps (rows in and out), progress and statistics
    assert pick(comparable(started_rest), "trigger", "pipeline_id", "pipeline_version", "created_by") == pick(
        comparable(started_graphql), "trigger", "pipeline_id", "pipeline_version", "created_by")
    rest_job, _ = await read_both(client, started_rest["id"])
    graphql_job, _ = await read_both(client, started_graphql["id"])
    assert shape(rest_job) == shape(graphql_job)
    assert [(s["id"], s["status"], s["rows_in"], s["rows_out"]) for s in rest_job["steps"]] == [
        ("input", "succeeded", 3, 3), ("clean", "succeeded", 3, 2), ("output", "succeeded", 2, 2)]
    assert rest_job["percent_complete"] == 100.0
    assert pl.read_csv(tmp_path / "out.csv").rows() == [(1, "Ann"), (2, "Bob")]
    # and the two logs tell the same story, line by line
    rest_lines = (await rest_ok(client, "GET", f"/jobs/{started_rest['id']}/logs"))["data"]
    graphql_lines = (await gql_data(client, LOGS, {"id": started_graphql["id"]}))["jobLogs"]["lines"]
    assert [pick(x, "seq", "level", "step_id", "message") for x in rest_lines] == [
        pick(x, "seq", "level", "step_id", "message") for x in graphql_lines]
    assert rest_lines[-1]["message"].startswith("job succeeded")


async def test_one_finished_job_reads_the_same_everywhere(client, tmp_path):
    # given a finished job
    pipeline_id = await make_pipeline(client, tmp_path)
    job_id = (await rest_ok(client, "POST", f"/pipelines/{pipeline_id}/run"))["id"]
    await wait_rest_job(client, job_id)
    # when it is read alone, in filtered lists, and its log in pages
    _, by_graphql = await read_both(client, job_id)
    rest_list = (await rest_ok(client, "GET", f"/jobs?pipeline_id={pipeline_id}&status=succeeded&trigger=manual"
                                              f"&created_after={by_graphql['createdAt'].replace('+', '%2B')}"))
    graphql_list = (await gql_data(client, JOBS, {"filter": {
        "pipelineId": pipeline_id, "status": "SUCCEEDED", "trigger": "MANUAL",
        "createdAfter": by_graphql["createdAt"]}}))["jobs"]
    none_rest = await rest_ok(client, "GET", "/jobs?status=failed")
    none_graphql = (await gql_data(client, JOBS, {"filter": {"status": "FAILED"}}))["jobs"]
    rest_logs = await rest_ok(client, "GET", f"/jobs/{job_id}/logs")
    graphql_logs = (await gql_data(client, LOGS, {"id": job_id}))["jobLogs"]
    rest_page = await rest_ok(client, "GET", f"/jobs/{job_id}/logs?after=1&limit=2")
    graphql_page = (await gql_data(client, LOGS, {"id": job_id, "after": 1, "limit": 2}))["jobLogs"]
    rest_tail = await rest_ok(client, "GET", f"/jobs/{job_id}/logs?tail=1")
    graphql_tail = (await gql_data(client, LOGS, {"id": job_id, "tail": 1}))["jobLogs"]
    # then
    assert [comparable(j) for j in rest_list["data"]] == [comparable(j) for j in graphql_list["nodes"]]
    assert rest_list["meta"]["total"] == graphql_list["totalCount"] == 1
    assert none_rest["data"] == none_graphql["nodes"] == [] and none_graphql["totalCount"] == 0
    for by_rest, by_graph in ((rest_logs, graphql_logs), (rest_page, graphql_page), (rest_tail, graphql_tail)):
        assert [line(x) for x in by_rest["data"]] == [line(x) for x in by_graph["lines"]]
        assert pick(by_rest, "next_after", "finished") == pick(by_graph, "next_after", "finished")
    assert [line(x) for x in by_graphql["logs"]] == [line(x) for x in rest_logs["data"]]
    assert [x["seq"] for x in rest_page["data"]] == [2, 3] and rest_logs["finished"] is True


async def test_refusals_of_jobs_carry_the_same_codes_and_details(client, other_client, tmp_path):
    # given a finished job and a pipeline
    pipeline_id = await make_pipeline(client, tmp_path)
    job_id = (await rest_ok(client, "POST", f"/pipelines/{pipeline_id}/run", headers={"Idempotency-Key": "k1"}))["id"]
    await wait_rest_job(client, job_id)
    other = await rest_ok(client, "POST", "/pipelines", {"name": "other", "steps": (
        await rest_ok(client, "GET", f"/pipelines/{pipeline_id}"))["steps"]})
    reader = await narrow_key(client, "read:jobs", "read:pipelines")
    writer = await narrow_key(client, "run:pipelines")
    # when each surface meets the same refusals
    cases = {
        "finished": (("POST", f"/jobs/{job_id}/cancel"), (CANCEL, {"id": job_id}, "cancelJob")),
        "no_job": (("POST", "/jobs/job_missing/cancel"), (CANCEL, {"id": "job_missing"}, "cancelJob")),
        "no_pipeline": (("POST", "/pipelines/pl_missing/run"), (RUN, {"id": "pl_missing"}, "runPipeline")),
        "key_reused": (("POST", f"/pipelines/{other['id']}/run", {"Idempotency-Key": "k1"}),
                       (RUN, {"id": other["id"], "key": "k1"}, "runPipeline")),
        "bad_key": (("POST", f"/pipelines/{pipeline_id}/run", {"Idempotency-Key": "two words"}),
                    (RUN, {"id": pipeline_id, "key": "two words"}, "runPipeline")),
    }
    for name, ((method, path, *headers), (query, variables, member)) in cases.items():
        status, by_rest = await rest(client, method, path, headers=headers[0] if headers else None)
        by_graphql = (await gql_data(client, query, variables))[member]
        # then
        assert status >= 400 and refusal(by_rest) == refusal(by_graphql), name
    # and the log's bounds, a narrow key and another workspace are refused alike
    bounds = (await rest(client, "GET", f"/jobs/{job_id}/logs?limit=0"),
              await gql(client, LOGS, {"id": job_id, "limit": 0}))
    assert refusal(bounds[0][1]) == refusal(bounds[1]) == ("VALIDATION_ERROR", {
        "field": "limit", "reason": "Must be between 1 and 5000"})
    narrow = (await rest(reader, "POST", f"/pipelines/{pipeline_id}/run"), await gql(reader, RUN, {"id": pipeline_id}))
    assert narrow[0][0] == 403
    assert refusal(narrow[0][1]) == refusal(narrow[1]) == ("FORBIDDEN", {"required_scope": "run:pipelines"})
    blind = (await rest(writer, "GET", f"/jobs/{job_id}"), await gql(writer, JOB, {"id": job_id}))
    assert blind[0][0] == 403
    assert refusal(blind[0][1]) == refusal(blind[1]) == ("FORBIDDEN", {"required_scope": "read:jobs"})
    foreign = (await rest(other_client, "POST", f"/jobs/{job_id}/cancel"),
               (await gql_data(other_client, CANCEL, {"id": job_id}))["cancelJob"])
    assert refusal(foreign[0][1]) == refusal(foreign[1]) == ("NOT_FOUND", {"resource": "job", "id": job_id})
    assert (await rest(other_client, "GET", f"/jobs/{job_id}"))[0] == 404
    foreign_log = (await rest(other_client, "GET", f"/jobs/{job_id}/logs"),
                   await gql(other_client, LOGS, {"id": job_id}))
    assert refusal(foreign_log[0][1]) == refusal(foreign_log[1]) == ("NOT_FOUND", {"resource": "job", "id": job_id})
    assert (await gql_data(other_client, JOB, {"id": job_id}))["job"] is None
    assert len((await rest_ok(client, "GET", "/jobs"))["data"]) == 1


ACK_RUN = "mutation ($id: ID!) { runPipeline(pipelineId: $id) { __typename ... on JobSuccess { jobId status } } }"
ACK_CANCEL = "mutation ($id: ID!) { cancelJob(id: $id) { __typename ... on JobSuccess { jobId status } } }"


def ack(answer: dict[str, Any]) -> tuple[str, str]:
    """(id, status) of what a caller without read:jobs learns of a job, on either surface."""
    return (answer["id"] if "id" in answer else answer["jobId"]), enum(answer["status"])


async def test_cancelling_a_pending_job_answers_and_leaves_the_same_job_on_both_surfaces(quiet_job):
    # given a pending job started through each surface by the admin, and by a key that may not read jobs
    app = quiet_job.caller
    pipeline_id = (await rest_ok(app, "GET", f"/jobs/{quiet_job.id}"))["pipeline_id"]
    other_id = (await gql_data(app, RUN, {"id": pipeline_id}))["runPipeline"]["job"]["id"]
    runner = await narrow_key(app, "run:pipelines")
    started = [await rest_ok(runner, "POST", f"/pipelines/{pipeline_id}/run"),
               (await gql_data(runner, ACK_RUN, {"id": pipeline_id}))["runPipeline"]]
    [runner_rest_id, runner_graphql_id] = [ack(answer)[0] for answer in started]
    # when the admin cancels one job through each surface, and so does the runner (the other surface's job)
    by_rest = await rest_ok(app, "POST", f"/jobs/{quiet_job.id}/cancel")
    by_graphql = (await gql_data(app, CANCEL, {"id": other_id}))["cancelJob"]["job"]
    acked = [await rest_ok(runner, "POST", f"/jobs/{runner_graphql_id}/cancel"),
             (await gql_data(runner, ACK_CANCEL, {"id": runner_rest_id}))["cancelJob"]]
    # then the acknowledgements are alike
    assert [ack(answer)[1] for answer in started] == ["pending", "pending"]
    assert [ack(answer) for answer in acked] == [(runner_graphql_id, "cancelled"), (runner_rest_id, "cancelled")]
    # and so are the full answers, the jobs read back through either surface, and their logs
    assert shape(by_rest) == shape(by_graphql)
    assert shape(by_rest)["status"] == "cancelled" and shape(by_rest)["cancel_requested"] is True
    assert {s["status"] for s in by_rest["steps"]} == {"skipped"}  # none of them ran
    for job_id in (quiet_job.id, other_id, runner_rest_id, runner_graphql_id):
        await read_both(app, job_id)
    rest_lines = (await rest_ok(app, "GET", f"/jobs/{quiet_job.id}/logs"))["data"]
    graphql_lines = (await gql_data(app, LOGS, {"id": other_id}))["jobLogs"]["lines"]
    assert [pick(x, "level", "step_id", "message") for x in rest_lines] == [
        pick(x, "level", "step_id", "message") for x in graphql_lines] != []

SUBSCRIBE = f"""subscription ($id: ID!) {{ jobLogs(jobId: $id, after: 0) {{
  __typename ... on JobLogLine {{ {LINE_FIELDS} }} ... on JobFinished {{ job {{ {JOB_FIELDS} }} }} }} }}"""


async def subscribed(caller, job_id: str) -> list[dict[str, Any]]:
    """Every message of the jobLogs subscription (graphql-transport-ws) until the server completes it."""
    messages = []
    async with caller.ws_connect("/graphql", protocols=["graphql-transport-ws"]) as ws:
        await ws.send_json({"type": "connection_init", "payload": {"authorization": caller.headers["Authorization"]}})
        assert (await ws.receive_json(timeout=10))["type"] == "connection_ack"
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE,
                                                                         "variables": {"id": job_id}}})
        while (message := await ws.receive_json(timeout=10))["type"] != "complete":
            assert message["type"] == "next", message
            messages.append(message["payload"]["data"]["jobLogs"])
    return messages


async def test_following_a_job_streams_the_same_lines_and_end_on_both_surfaces(client, tmp_path):
    # given a finished job
    pipeline_id = await make_pipeline(client, tmp_path)
    job_id = (await rest_ok(client, "POST", f"/pipelines/{pipeline_id}/run"))["id"]
    await wait_rest_job(client, job_id)
    # when it is followed through REST (NDJSON) and through a GraphQL subscription
    resp = await client.get(f"/api/v1/jobs/{job_id}/logs?follow=true")
    streamed = [orjson.loads(raw) for raw in (await resp.read()).splitlines()]
    by_graphql = await subscribed(client, job_id)
    # then both give the stored lines in order, then the job in its final state
    *rest_lines, rest_end = streamed
    *graphql_lines, graphql_end = by_graphql
    assert [line(x) for x in rest_lines] == [line(x) for x in graphql_lines] != []
    assert (rest_end["type"], graphql_end["__typename"]) == ("end", "JobFinished")
    assert comparable(rest_end["job"]) == comparable(graphql_end["job"])
    assert rest_end["status"] == enum(graphql_end["job"]["status"]) == "succeeded"


# Where the surfaces once disagreed: a time without a zone and a negative cursor are refused alike.

async def test_a_jobs_filter_time_without_a_zone_is_treated_alike(client):
    # when
    status, by_rest = await rest(client, "GET", "/jobs?created_after=2020-01-01T00:00:00")
    by_graphql = await gql(client, JOBS, {"filter": {"createdAfter": "2020-01-01T00:00:00"}})
    # then both refuse it alike, or both list the same jobs
    assert outcome(status, by_rest) == outcome(200, by_graphql)


async def test_a_log_since_without_a_zone_is_treated_alike(quiet_job):
    status, by_rest = await rest(quiet_job.caller, "GET", f"/jobs/{quiet_job.id}/logs?since=2020-01-01T00:00:00")
    by_graphql = await gql(quiet_job.caller, LOGS_SINCE, {"id": quiet_job.id, "since": "2020-01-01T00:00:00"})
    assert outcome(status, by_rest) == outcome(200, by_graphql)


async def test_a_negative_log_cursor_is_refused_alike(quiet_job):
    for name in ("after", "tail"):
        _, by_rest = await rest(quiet_job.caller, "GET", f"/jobs/{quiet_job.id}/logs?{name}=-1")
        by_graphql = await gql(quiet_job.caller, LOGS, {"id": quiet_job.id, name: -1})
        assert refusal(by_rest) == refusal(by_graphql), name
