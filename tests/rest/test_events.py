"""The job feed (GET /api/v1/events): two pipelines' jobs created, changed and finished, resumes, filters."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import replace

import orjson
import pytest

from server.engine.journal import Journal
from server.engine.service import EVENT_BUS
from server.rest.events import OPEN_FEEDS
from tests.conftest import Caller, bearer
from tests.rest.test_log_streams import events
from tests.rest.test_pipelines import example, make_dataset, wait_job

# A guard against a hang, not a timing assertion: every wait below ends as soon as the data is there.
GUARD_SECONDS = 60


@pytest.fixture
async def quiet(start_app, settings, tmp_path):
    """An app that runs no jobs itself, with two pipelines (a and b) of the default workspace."""
    return await two_pipelines(start_app, settings, tmp_path)


async def two_pipelines(start_app, settings, tmp_path) -> tuple[Caller, dict[str, str]]:
    app = await start_app(replace(settings, run_jobs=False, run_schedules=False))
    dataset_id = await make_dataset(app, tmp_path)
    pipelines = {}
    for name in ("a", "b"):
        body = {**example(dataset_id, {"path": str(tmp_path / f"{name}.csv")}), "name": name}
        pipelines[name] = (await (await app.post("/api/v1/pipelines", json=body)).json())["id"]
    return app, pipelines


async def run(app: Caller, pipeline_id: str) -> tuple[str, Journal]:
    job = await (await app.post(f"/api/v1/pipelines/{pipeline_id}/run")).json()
    return job["id"], Journal(job["id"], bus=app.app[EVENT_BUS])


async def start_and_finish(journal: Journal, status: str = "succeeded") -> None:
    """What the engine does to a job, step by step: running, a step, progress, the end."""
    await journal.update_job(status="running")
    await journal.step("input", status="running")
    await journal.update_job(kind="progress", progress=0.5)
    await journal.step("input", status="succeeded")
    await journal.update_job(status=status, progress=1.0)


async def read_lines(resp, done: Callable[[list[dict]], bool]) -> list[dict]:
    """NDJSON feed entries until `done` holds (keep-alives left out)."""
    got: list[dict] = []
    async with asyncio.timeout(GUARD_SECONDS):
        while not done(got):
            item = orjson.loads(await resp.content.readline())
            if item["type"] == "event":
                got.append(item)
    return got


async def read_events(resp, count: int) -> list[dict]:
    """The first `count` Server-Sent Events of a stream."""
    raw = b""
    async with asyncio.timeout(GUARD_SECONDS):
        while len(events(raw)) < count:
            raw += await resp.content.readany()
    return events(raw)[:count]


def finished(*job_ids: str) -> Callable[[list[dict]], bool]:
    return lambda got: set(job_ids) <= {e["job_id"] for e in got if e["kind"] == "finished"}


async def test_the_feed_sees_two_pipelines_jobs_start_change_and_finish(quiet):
    # given a follower of the feed from now on
    app, pipelines = quiet
    async with app.get("/api/v1/events?after=0") as resp:
        # when a job of each pipeline is queued, runs a step and ends
        job_a, journal_a = await run(app, pipelines["a"])
        job_b, journal_b = await run(app, pipelines["b"])
        await start_and_finish(journal_a)
        await start_and_finish(journal_b, "failed")
        got = await read_lines(resp, finished(job_a, job_b))
    # then each job's life is there, in order, with gap-free cursors
    assert resp.headers["Content-Type"].startswith("application/x-ndjson")
    assert [e["cursor"] for e in got] == list(range(got[0]["cursor"], got[0]["cursor"] + len(got)))
    for job_id, pipeline, end in ((job_a, "a", "succeeded"), (job_b, "b", "failed")):
        mine = [e for e in got if e["job_id"] == job_id]
        assert {e["pipeline_id"] for e in mine} == {pipelines[pipeline]}
        assert [(e["kind"], e["status"], e["step_id"], e["step_status"], e["percent_complete"]) for e in mine] == [
            ("created", "pending", None, None, 0.0),
            ("changed", "running", None, None, 0.0),
            ("changed", "running", "input", "running", 0.0),
            ("changed", "running", None, None, 50.0),
            ("changed", "running", "input", "succeeded", 50.0),
            ("finished", end, None, None, 100.0),
        ]


async def test_a_reconnect_with_last_event_id_gets_every_event_once(quiet):
    # given a job half done, and an EventSource that read three events from the start, then dropped
    app, pipelines = quiet
    job_a, journal_a = await run(app, pipelines["a"])
    await journal_a.update_job(status="running")
    await journal_a.step("input", status="running")
    headers = {"Accept": "text/event-stream"}
    async with app.get("/api/v1/events?after=0", headers=headers) as resp:
        content_type = resp.headers["Content-Type"]
        first = await read_events(resp, 3)
    # when more happens while it is away, and it reconnects with the last id it received
    job_b, journal_b = await run(app, pipelines["b"])
    await start_and_finish(journal_b)
    await journal_a.update_job(status="cancelled")
    async with app.get("/api/v1/events", headers={**headers, "Last-Event-ID": first[-1]["id"]}) as resp:
        rest = await read_events(resp, 7)
    async with app.get("/api/v1/events?after=0") as resp:
        stored = await read_lines(resp, finished(job_a, job_b))
    # then the two parts are the whole feed: nothing lost, nothing twice
    assert content_type.startswith("text/event-stream")
    assert [int(e["id"]) for e in first + rest] == [e["cursor"] for e in stored] == list(range(1, 11))
    assert [e["event"] for e in first + rest] == [e["kind"] for e in stored]
    assert [e["data"]["job_id"] for e in rest] == [job_b] * 6 + [job_a]


async def test_filters_by_pipeline_and_status(quiet):
    # given both pipelines' jobs ended
    app, pipelines = quiet
    job_a, journal_a = await run(app, pipelines["a"])
    job_b, journal_b = await run(app, pipelines["b"])
    await start_and_finish(journal_a)
    await start_and_finish(journal_b)
    # when
    async with app.get(f"/api/v1/events?after=0&pipeline_id={pipelines['b']}") as resp:
        of_b = await read_lines(resp, finished(job_b))
    async with app.get("/api/v1/events?after=0&status=succeeded") as resp:
        succeeded = await read_lines(resp, finished(job_a, job_b))
    # then
    assert {e["job_id"] for e in of_b} == {job_b} and len(of_b) == 6
    assert [(e["job_id"], e["kind"]) for e in succeeded] == [(job_a, "finished"), (job_b, "finished")]


@pytest.mark.parametrize(("query", "field"), [("status=sleeping", "status"), ("pipeline_id=x;DROP", "pipeline_id"),
                                               ("after=-1", "after"), ("after=999999", "after")])
async def test_bad_filters_and_cursors_are_refused(quiet, query, field):
    # given
    app, _ = quiet
    # when
    resp = await app.get(f"/api/v1/events?{query}")
    # then
    assert resp.status == 400
    assert (await resp.json())["error"]["details"]["field"] == field


async def test_another_workspace_sees_none_of_it_and_a_narrow_key_is_refused(quiet, credentials, tmp_path):
    # given the default workspace's jobs ended, and a follower in another workspace from the start of its feed
    app, pipelines = quiet
    _, journal_a = await run(app, pipelines["a"])
    await start_and_finish(journal_a)
    other = Caller(app.http, bearer(credentials["other"]))
    reader = Caller(app.http, bearer(credentials["reader"]))
    async with other.get("/api/v1/events?after=0") as resp:
        # when the other workspace runs a job of its own
        dataset_id = await make_dataset(other, tmp_path)
        pipeline = await (await other.post("/api/v1/pipelines", json=example(dataset_id))).json()
        own, _ = await run(other, pipeline["id"])
        got = await read_lines(resp, lambda got: len(got) >= 1)
    refused = await reader.get("/api/v1/events")
    # then its feed starts with its own job, numbered from 1
    assert [(e["cursor"], e["job_id"], e["kind"]) for e in got] == [(1, own, "created")]
    assert refused.status == 403


async def test_a_real_run_is_in_the_feed(client, tmp_path):
    # given a follower of the feed, on an app that runs jobs
    dataset_id = await make_dataset(client, tmp_path)
    pipeline = await (await client.post("/api/v1/pipelines", json=example(
        dataset_id, {"path": str(tmp_path / "out.csv")}))).json()
    async with client.get("/api/v1/events") as resp:
        # when the pipeline runs for real
        job_id, _ = await run(client, pipeline["id"])
        got = await read_lines(resp, finished(job_id))
    final = await wait_job(client, job_id)
    # then the feed tells its whole life: queued, running, each step, the end as the job says
    assert got[0]["kind"] == "created" and got[-1]["kind"] == "finished"
    assert got[-1]["status"] == final["status"] == "succeeded"
    assert {e["step_id"] for e in got if e["step_status"] == "succeeded"} == {"input", "clean", "output"}
    assert "running" in [e["status"] for e in got]


async def test_a_job_run_by_a_worker_process_reaches_the_feed_of_the_api(quiet, settings, database_url, tmp_path):
    # given an API process that runs no jobs, following the feed, and a worker process on the same database
    if not database_url.startswith("postgres"):
        pytest.skip("Processes share a database on PostgreSQL only")
    app, pipelines = quiet
    env = {**os.environ, "DOCC_DATABASE_URL": database_url, "DOCC_FILE_ROOTS": os.pathsep.join(settings.file_roots),
           "DOCC_SECRET_KEY_FILE": settings.secret_key_file, "DOCC_JOB_POLL_SECONDS": "0.2",
           "DOCC_LOG_LEVEL": "WARNING"}
    worker = await asyncio.create_subprocess_exec(sys.executable, "-m", "server", "worker", env=env,
                                                  stderr=asyncio.subprocess.PIPE)
    try:
        async with app.get("/api/v1/events", headers={"Accept": "text/event-stream"}) as resp:
            # when a job is queued through the API, and the worker runs it
            job_id, _ = await run(app, pipelines["a"])
            raw, got = b"", []
            async with asyncio.timeout(GUARD_SECONDS):
                while not any(e["event"] == "finished" for e in got):
                    raw += await resp.content.readany()
                    got = events(raw)
    finally:
        worker.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(worker.communicate(), 20)
    final = await (await app.get(f"/api/v1/jobs/{job_id}")).json()
    # then the API's feed saw every change the worker made, in order, once
    assert [int(e["id"]) for e in got] == list(range(int(got[0]["id"]), int(got[0]["id"]) + len(got)))
    assert {e["data"]["job_id"] for e in got} == {job_id}
    assert got[0]["event"] == "created" and got[-1]["data"]["status"] == final["status"] == "succeeded", stderr
    assert {e["data"]["step_id"] for e in got if e["data"]["step_status"] == "succeeded"} == {"input", "clean",
                                                                                               "output"}


async def test_quality_rule_runs_are_in_the_feed_on_both_surfaces(client, tmp_path):
    # given a follower of the feed, and a rule on a real file
    (tmp_path / "c.csv").write_text("id,email\n1,a@example.com\n2,\n")
    made = await client.post("/api/v1/datasets", json={"name": "c", "source": {
        "type": "file", "path": str(tmp_path / "c.csv")}})
    dataset_id = (await made.json())["id"]
    rule = await (await client.post("/api/v1/quality/rules", json={
        "name": "email_set", "dataset_id": dataset_id, "rule_type": "not_null", "config": {"column": "email"},
        "severity": "warning"})).json()
    async with client.get("/api/v1/events?after=0") as resp:
        # when the rule runs on demand, then inside a pipeline's quality_check step
        started = await (await client.post(f"/api/v1/quality/rules/{rule['id']}/run",
                                           headers={"Prefer": "wait=60"})).json()
        steps = [{"id": "input", "type": "data_source", "config": {"dataset_id": dataset_id}},
                 {"id": "gate", "type": "quality_check", "config": {"rules": [rule["id"]]}}]
        pipeline = await (await client.post("/api/v1/pipelines", json={"name": "p", "steps": steps})).json()
        job_id, _ = await run(client, pipeline["id"])

        def both_ended(got: list[dict]) -> bool:
            return len([e for e in got if e["kind"] == "rule_finished"]) == 2 and finished(job_id)(got)

        got = await read_lines(resp, both_ended)
    # then the feed tells each run's start and end, with the rule, the result and its status
    rules = [e for e in got if e["kind"].startswith("rule_")]
    assert [(e["kind"], e["rule_status"]) for e in rules] == [
        ("rule_started", "running"), ("rule_finished", "failed"), ("rule_finished", "failed")]
    assert {e["rule_id"] for e in rules} == {rule["id"]}
    assert rules[0]["result_id"] == rules[1]["result_id"] == started["id"]
    assert (rules[0]["job_id"], rules[0]["status"], rules[0]["percent_complete"]) == (None, None, None)
    assert (rules[2]["job_id"], rules[2]["pipeline_id"]) == (job_id, pipeline["id"])
    # and job events keep their shape
    jobs = [e for e in got if not e["kind"].startswith("rule_")]
    assert all(e["rule_id"] is None and e["job_id"] == job_id for e in jobs)
    # and GraphQL delivers the same events
    query = """subscription { jobEvents(after: 0) { cursor kind jobId status ruleId resultId ruleStatus } }"""
    received = await graphql_events(client, query, len(got))
    assert [(e["cursor"], e["kind"].lower(), e["ruleId"], e["resultId"], (e["ruleStatus"] or "").lower() or None)
            for e in received] == [(e["cursor"], e["kind"], e["rule_id"], e["result_id"], e["rule_status"])
                                   for e in got]


async def graphql_events(client: Caller, query: str, count: int) -> list[dict]:
    received: list[dict] = []
    async with client.ws_connect("/graphql", protocols=["graphql-transport-ws"]) as ws:
        await ws.send_json({"type": "connection_init", "payload": {}})
        assert (await ws.receive_json())["type"] == "connection_ack"
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": query}})
        async with asyncio.timeout(GUARD_SECONDS):
            while len(received) < count:
                message = await ws.receive_json()
                assert message["type"] == "next", message
                received.append(message["payload"]["data"]["jobEvents"])
        await ws.send_json({"id": "1", "type": "complete"})
    return received


async def test_a_reader_that_hangs_up_ends_its_feed_quietly(quiet, caplog):
    # given a reader that got the first event and then went away
    app, pipelines = quiet
    _, journal = await run(app, pipelines["a"])
    resp = await app.get("/api/v1/events?after=0", headers={"Accept": "application/x-ndjson"})
    await read_lines(resp, lambda got: len(got) >= 1)
    resp.close()
    feeds = app.app[OPEN_FEEDS]
    # when the feed has more to write, and so learns that the reader is gone
    async with asyncio.timeout(GUARD_SECONDS):
        for step in range(1, 1_000_000):
            if not feeds:
                break
            await journal.update_job(kind="progress", progress=step % 100 / 100)
            await asyncio.sleep(0.05)
    # then the feed ended without an error logged
    assert [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")] == []
