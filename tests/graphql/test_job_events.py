"""The jobEvents subscription: the workspace's job feed over graphql-transport-ws, filtered and resumable."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import Caller, bearer
from tests.rest.test_events import GUARD_SECONDS, run, start_and_finish, two_pipelines
from tests.rest.test_pipelines import example, make_dataset

SUBSCRIBE = """subscription ($filter: JobEventFilter, $after: Int) {
  jobEvents(filter: $filter, after: $after) { cursor kind jobId pipelineId status percentComplete stepId stepStatus }
}"""


@pytest.fixture
async def quiet(start_app, settings, tmp_path):
    """An app that runs no jobs itself, with two pipelines (a and b) of the default workspace."""
    return await two_pipelines(start_app, settings, tmp_path)


async def subscribe(client: Caller, variables: dict, count: int) -> list[dict]:
    """The first `count` events of a jobEvents subscription (then it is completed by the client)."""
    received: list[dict] = []
    async with client.ws_connect("/graphql", protocols=["graphql-transport-ws"]) as ws:
        await ws.send_json({"type": "connection_init", "payload": {}})
        assert (await ws.receive_json())["type"] == "connection_ack"
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE, "variables": variables}})
        async with asyncio.timeout(GUARD_SECONDS):
            while len(received) < count:
                message = await ws.receive_json()
                assert message["type"] == "next", message
                received.append(message["payload"]["data"]["jobEvents"])
        await ws.send_json({"id": "1", "type": "complete"})
    return received


async def test_a_dashboard_follows_one_pipeline_and_resumes_from_its_cursor(quiet):
    # given both pipelines' jobs ended
    app, pipelines = quiet
    job_a, journal_a = await run(app, pipelines["a"])
    job_b, journal_b = await run(app, pipelines["b"])
    await start_and_finish(journal_a)
    await start_and_finish(journal_b)
    # when a dashboard reads pipeline b's first three events, goes away, and resumes from the last cursor
    wanted = {"pipelineId": pipelines["b"]}
    first = await subscribe(app, {"filter": wanted, "after": 0}, 3)
    rest = await subscribe(app, {"filter": wanted, "after": first[-1]["cursor"]}, 3)
    # then it got pipeline b's six events once each, in order, the last one the end
    got = first + rest
    assert {e["jobId"] for e in got} == {job_b} and {e["pipelineId"] for e in got} == {pipelines["b"]}
    assert [e["kind"] for e in got] == ["CREATED", "CHANGED", "CHANGED", "CHANGED", "CHANGED", "FINISHED"]
    assert [e["cursor"] for e in got] == sorted({e["cursor"] for e in got})
    assert got[-1]["status"] == "SUCCEEDED" and got[-1]["percentComplete"] == 100.0
    assert job_a not in {e["jobId"] for e in got}


async def test_the_status_filter_and_other_workspaces_see_none(quiet, credentials, tmp_path):
    # given a subscriber of another workspace, and one of failures, from the start of their feeds
    app, pipelines = quiet
    other = Caller(app.http, bearer(credentials["other"]))
    watching = asyncio.ensure_future(subscribe(other, {"after": 0}, 1))
    mine = asyncio.ensure_future(subscribe(app, {"filter": {"status": "FAILED"}, "after": 0}, 1))
    # when the default workspace's job fails, then the other workspace queues one of its own
    job_a, journal_a = await run(app, pipelines["a"])
    await start_and_finish(journal_a, "failed")
    dataset_id = await make_dataset(other, tmp_path)
    pipeline = await (await other.post("/api/v1/pipelines", json=example(dataset_id))).json()
    own, _ = await run(other, pipeline["id"])
    # then
    assert [(e["jobId"], e["kind"], e["status"]) for e in await mine] == [(job_a, "FINISHED", "FAILED")]
    assert [(e["cursor"], e["jobId"], e["kind"]) for e in await watching] == [(1, own, "CREATED")]


async def test_a_bad_cursor_and_a_narrow_key_are_refused(quiet, credentials):
    # given
    app, _ = quiet
    reader = Caller(app.http, bearer(credentials["reader"]))
    # when
    errors = []
    for client, variables in ((app, {"after": 999_999}), (reader, {})):
        async with client.ws_connect("/graphql", protocols=["graphql-transport-ws"]) as ws:
            await ws.send_json({"type": "connection_init", "payload": {}})
            assert (await ws.receive_json())["type"] == "connection_ack"
            await ws.send_json({"id": "1", "type": "subscribe",
                                "payload": {"query": SUBSCRIBE, "variables": variables}})
            errors.append(await ws.receive_json())
    # then
    assert errors[0]["type"] == "next" and errors[0]["payload"]["data"] is None
    assert errors[0]["payload"]["errors"][0]["extensions"]["code"] == "VALIDATION_ERROR"
    assert errors[1]["type"] == "error"
    assert errors[1]["payload"][0]["extensions"]["code"] == "FORBIDDEN"
