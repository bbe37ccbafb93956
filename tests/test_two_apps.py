"""Two apps with different settings in one process share no state: each has its own bus, engine and policy.

Both apps run on the test's database (the ORM's connections are per process); what must not be shared is
everything the app owns. Events are handed to a bus with `deliver_local`, the in-process fan-out: on
PostgreSQL, `publish` also relays to other servers on the same database, which is wanted between servers.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from server.engine.bus import JOBS_TOPIC, Event, job_topic
from server.engine.journal import Journal
from server.engine.service import ENGINE, EVENT_BUS, engine
from server.models.engine import Job

LOGS = """subscription ($id: ID!) {
  jobLogs(jobId: $id, after: 0) { __typename ... on JobLogLine { seq message } }
}"""
OUTSIDE = "Outside the allowed file roots (DOCC_FILE_ROOTS)"


@pytest.fixture
async def two_apps(start_app, settings, tmp_path):
    """Apps A and B in this process, each confined to its own folder, neither running jobs by itself."""
    roots = tmp_path / "a", tmp_path / "b"
    for root in roots:
        root.mkdir()
    apps = [await start_app(replace(settings, file_roots=(str(root),), data_dir=str(root / "data"),
                                    run_jobs=False, run_schedules=False)) for root in roots]
    return apps, roots


async def queued_job(client, folder) -> str:
    (folder / "in.csv").write_text("id\n1\n")
    dataset = await (await client.post("/api/v1/datasets", json={
        "name": f"in_{folder.name}", "source": {"type": "file", "path": str(folder / "in.csv")}})).json()
    pipeline = await (await client.post("/api/v1/pipelines", json={"name": f"copy_{folder.name}", "steps": [
        {"id": "input", "type": "data_source", "config": {"dataset_id": dataset["id"]}},
        {"id": "output", "type": "data_sink", "config": {"path": str(folder / "out.csv")}}]})).json()
    resp = await client.post(f"/api/v1/pipelines/{pipeline['id']}/run")
    assert resp.status == 202, await resp.text()
    return (await resp.json())["id"]


def log_event(job_id: str, message: str) -> Event:
    """A live log line as the executor announces it, after the one stored line of the job."""
    return Event(job_topic(job_id), "log", {"seq": 2, "time": datetime.now(UTC).isoformat(), "level": "info",
                                            "step_id": None, "message": message})


async def next_line(ws) -> dict:
    while True:
        message = await asyncio.wait_for(ws.receive_json(), 10)
        if message["type"] != "ka":
            assert message["type"] == "next", message
            return message["payload"]["data"]["jobLogs"]


async def subscribe(ws, client, job_id: str) -> None:
    await ws.send_json({"type": "connection_init", "payload": {"authorization": client.headers["Authorization"]}})
    assert (await asyncio.wait_for(ws.receive_json(), 10))["type"] == "connection_ack"
    await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": LOGS, "variables": {"id": job_id}}})


async def test_each_app_owns_its_bus_and_its_engine_uses_it(two_apps):
    (a, b), _ = two_apps
    assert a.app[EVENT_BUS] is not b.app[EVENT_BUS]
    assert a.app[ENGINE].bus is a.app[EVENT_BUS] and b.app[ENGINE].bus is b.app[EVENT_BUS]
    assert a.app[ENGINE].policy.file_roots != b.app[ENGINE].policy.file_roots


async def test_a_job_log_line_on_one_app_never_reaches_a_subscriber_of_the_other(two_apps):
    # given one running job (in the shared database) with one stored line, followed live on both apps
    (a, b), (root_a, _) = two_apps
    job_id = await queued_job(a, root_a)
    await Job.filter(id=job_id).update(status="running")
    await Journal(job_id).log("info", None, "stored")  # No bus: stored only.
    async with a.ws_connect("/graphql", protocols=["graphql-transport-ws"]) as ws_a, \
            b.ws_connect("/graphql", protocols=["graphql-transport-ws"]) as ws_b:
        await subscribe(ws_a, a, job_id)
        await subscribe(ws_b, b, job_id)
        # A stream subscribes to its bus before it reads the store: its stored line proves it is listening.
        stored = [(await next_line(ws))["message"] for ws in (ws_a, ws_b)]
        # when the next line is announced on A's bus, then on B's with other words
        a.app[EVENT_BUS].deliver_local(log_event(job_id, "on a"))
        seen_on_a = await next_line(ws_a)
        b.app[EVENT_BUS].deliver_local(log_event(job_id, "on b"))
        seen_on_b = await next_line(ws_b)
    # then each saw its own app's line; had A's reached B, B would have sent it first
    assert stored == ["stored", "stored"]
    assert (seen_on_a["seq"], seen_on_a["message"]) == (2, "on a")
    assert (seen_on_b["seq"], seen_on_b["message"]) == (2, "on b")


async def test_the_domain_announces_a_new_job_on_the_bus_of_the_app_that_served_the_request(two_apps):
    # given a listener on A's bus, as A's executor would have
    (a, _b), (root_a, _) = two_apps
    listener = a.app[EVENT_BUS].subscribe(JOBS_TOPIC)
    try:
        # when a job is queued through A
        job_id = await queued_job(a, root_a)
        # then A's bus carried the notice (published before the response was written)
        event = await listener.get(timeout=10)
    finally:
        listener.close()
    assert event is not None and (event.kind, event.data) == ("created", {"job_id": job_id})


async def test_file_roots_of_one_app_do_not_apply_to_the_other(two_apps):
    # given a file in A's folder and one in B's
    (a, b), (root_a, root_b) = two_apps
    for root in (root_a, root_b):
        (root / "in.csv").write_text("id\n1\n")

    async def save(client, root, name):
        return await client.post("/api/v1/datasets", json={
            "name": name, "source": {"type": "file", "path": str(root / "in.csv")}})

    # when each app is asked to read both
    a_own, a_other = await save(a, root_a, "a_own"), await save(a, root_b, "a_other")
    b_own, b_other = await save(b, root_b, "b_own"), await save(b, root_a, "b_other")
    # then each accepts its own folder and refuses the other's
    assert (a_own.status, b_own.status) == (201, 201)
    for refused in (a_other, b_other):
        assert refused.status == 400
        error = (await refused.json())["error"]
        assert error["code"] == "VALIDATION_ERROR"
        assert error["details"] == {"field": "source.path", "reason": OUTSIDE}


async def test_an_engine_that_runs_schedules_must_be_given_a_tick_handler(settings):
    # The engine does not know what a tick does; forgetting to say is a wiring error, found at start.
    with pytest.raises(ValueError, match="tick handler"):
        async with engine(settings, run_jobs=False, run_schedules=True):
            pass
