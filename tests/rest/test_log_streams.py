"""Job logs by level, by time and from the tail; followed as Server-Sent Events with Last-Event-ID resumes."""

from __future__ import annotations

from dataclasses import replace

import orjson
import pytest

from server.engine.journal import Journal
from server.engine.service import EVENT_BUS
from server.models.engine import Job
from tests.graphql.helpers import gql
from tests.rest.test_pipelines import example, make_dataset

LEVELS = ["info", "debug", "warning", "info", "error", "info"]


@pytest.fixture
async def held(start_app, settings, tmp_path):
    """An app that runs no jobs itself, a job of it held `running`, with six stored lines of mixed levels."""
    quiet = await start_app(replace(settings, run_jobs=False, run_schedules=False))
    dataset_id = await make_dataset(quiet, tmp_path)
    pipeline = await (await quiet.post("/api/v1/pipelines", json=example(dataset_id, {
        "path": str(tmp_path / "o.csv")}))).json()
    job = await (await quiet.post(f"/api/v1/pipelines/{pipeline['id']}/run")).json()
    await Job.filter(id=job["id"]).update(status="running")
    journal = Journal(job["id"], bus=quiet.app[EVENT_BUS])
    stored = await (await quiet.get(f"/api/v1/jobs/{job['id']}/logs")).json()
    for number, level in enumerate(LEVELS, start=1):
        await journal.log(level, None, f"line {number}")
    return quiet, job["id"], journal, stored["next_after"]


def events(raw: bytes) -> list[dict]:
    """Server-Sent Events as dicts of their fields, comments and the retry hint left out."""
    found = []
    for block in raw.decode().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":")
                      and ": " in line)
        if "event" in fields:
            found.append({**fields, "data": orjson.loads(fields["data"])})
    return found


async def test_the_level_filter_keeps_lines_at_or_above_it(held):
    # given
    client, job_id, _, base = held
    # when
    warnings = await (await client.get(f"/api/v1/jobs/{job_id}/logs?level=warning&after={base}")).json()
    refused = await client.get(f"/api/v1/jobs/{job_id}/logs?level=loud")
    # then
    assert [line["message"] for line in warnings["data"]] == ["line 3", "line 5"]
    assert refused.status == 400
    assert (await refused.json())["error"]["details"]["field"] == "level"


async def test_since_takes_a_duration_or_a_time(held):
    # given
    client, job_id, _, base = held
    # when
    last_hour = await (await client.get(f"/api/v1/jobs/{job_id}/logs?since=1h&after={base}")).json()
    future = await (await client.get(f"/api/v1/jobs/{job_id}/logs?since=2999-01-01T00:00:00Z")).json()
    refused = await client.get(f"/api/v1/jobs/{job_id}/logs?since=5 fortnights")
    # then
    assert len(last_hour["data"]) == len(LEVELS)
    assert future["data"] == []
    assert refused.status == 400 and (await refused.json())["error"]["details"]["field"] == "since"


async def test_events_carry_the_sequence_as_id_and_a_reconnect_resumes_after_it(held):
    # given a followed job that ends after its six lines
    client, job_id, journal, base = held
    headers = {"Accept": "text/event-stream"}
    async with client.get(f"/api/v1/jobs/{job_id}/logs?follow=true&after={base}", headers=headers) as resp:
        # when the client reads two events, then drops the connection
        content_type = resp.headers["Content-Type"]
        first = b""
        while len(events(first)) < 2:
            first += await resp.content.readany()
    got = events(first)[:2]
    await journal.update_job(status="succeeded")
    # and reconnects as EventSource does, with the last id it received
    resumed = await client.get(f"/api/v1/jobs/{job_id}/logs?follow=true",
                               headers={**headers, "Last-Event-ID": got[-1]["id"]})
    rest = events(await resumed.read())
    # then
    assert content_type.startswith("text/event-stream")
    assert [int(e["id"]) for e in got] == [base + 1, base + 2]
    assert [e["data"]["message"] for e in got + rest[:-1]] == [f"line {n}" for n in range(1, 7)]
    assert [int(e["id"]) for e in rest[:-1]] == list(range(base + 3, base + 7))
    assert rest[-1]["event"] == "end" and rest[-1]["data"]["status"] == "succeeded"


async def test_following_from_the_tail_at_a_level(held):
    # given
    client, job_id, journal, _ = held
    await journal.update_job(status="succeeded")
    # when
    body = await (await client.get(f"/api/v1/jobs/{job_id}/logs?follow=true&tail=2&level=info")).read()
    lines = [orjson.loads(line) for line in body.splitlines()]
    # then the last two lines at info or above, then the end
    assert [line.get("message") for line in lines[:-1]] == ["line 5", "line 6"]
    assert lines[-1]["type"] == "end"


async def test_a_malformed_last_event_id_is_refused(held):
    # given
    client, job_id, _, _ = held
    # when
    resp = await client.get(f"/api/v1/jobs/{job_id}/logs?follow=true",
                            headers={"Accept": "text/event-stream", "Last-Event-ID": "-1; DROP"})
    # then
    assert resp.status == 400
    assert (await resp.json())["error"]["details"]["field"] == "Last-Event-ID"


SUBSCRIBE = """subscription ($id: ID!, $tail: Int, $level: LogLevel) {
  jobLogs(jobId: $id, tail: $tail, level: $level) {
    __typename ... on JobLogLine { seq level message } ... on JobFinished { job { status } }
  }
}"""
STORED = """query ($id: ID!, $level: LogLevel) { jobLogs(jobId: $id, level: $level) { lines { message } } }"""


async def test_graphql_takes_tail_and_level_too(held):
    # given
    client, job_id, journal, _ = held
    await journal.update_job(status="succeeded")
    # when
    stored = await gql(client, STORED, {"id": job_id, "level": "ERROR"})
    async with client.ws_connect("/graphql", protocols=["graphql-transport-ws"]) as ws:
        await ws.send_json({"type": "connection_init", "payload": {}})
        assert (await ws.receive_json())["type"] == "connection_ack"
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {
            "query": SUBSCRIBE, "variables": {"id": job_id, "tail": 3, "level": "INFO"}}})
        received = []
        while (message := await ws.receive_json())["type"] == "next":
            received.append(message["payload"]["data"]["jobLogs"])
    # then
    assert [line["message"] for line in stored["data"]["jobLogs"]["lines"]] == ["line 5"]
    assert [item.get("message") for item in received[:-1]] == ["line 4", "line 5", "line 6"]
    assert received[-1] == {"__typename": "JobFinished", "job": {"status": "SUCCEEDED"}}
