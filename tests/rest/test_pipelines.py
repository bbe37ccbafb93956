"""REST pipelines and jobs: the reference's example, runs, idempotency, logs and every refusal."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import orjson
import polars as pl
import pytest

CSV = pl.DataFrame({"id": ["1", "1", "2"], "name": ["Ann", "Ann", "Bob"], "age": ["30", "30", None]})
SCHEMA = {"fields": [{"name": "id", "type": "integer", "nullable": False},
                     {"name": "name", "type": "string", "nullable": False},
                     {"name": "age", "type": "integer", "nullable": True}]}


async def make_dataset(client, tmp_path) -> str:
    path = tmp_path / "customers.csv"
    CSV.write_csv(path)
    resp = await client.post("/api/v1/datasets", json={"name": "customers", "schema": SCHEMA,
                                                       "source": {"type": "file", "path": str(path)}})
    assert resp.status == 201
    return (await resp.json())["id"]


def example(dataset_id: str, sink: dict | None = None) -> dict:
    """The reference's Create Pipeline example, with a real dataset id."""
    return {
        "name": "customer_data_processing",
        "description": "Process and clean customer data",
        "steps": [
            {"id": "input", "type": "data_source", "config": {"dataset_id": dataset_id}},
            {"id": "clean", "type": "data_cleaner", "config": {"remove_duplicates": True, "handle_nulls": "drop"}},
            {"id": "output", "type": "data_sink", "config": sink or {"destination": "warehouse.cleaned_customers"}},
        ],
        "schedule": {"cron": "0 2 * * *", "timezone": "UTC"},
    }


async def wait_job(client, job_id: str) -> dict:
    for _ in range(400):
        body = await (await client.get(f"/api/v1/jobs/{job_id}")).json()
        if body["status"] in {"succeeded", "failed", "cancelled"}:
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


async def test_the_reference_create_pipeline_example_works_as_written(client, tmp_path):
    # given
    dataset_id = await make_dataset(client, tmp_path)
    # when
    resp = await client.post("/api/v1/pipelines", json=example(dataset_id))
    # then
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    assert body["id"].startswith("pl_") and body["version"] == 1
    assert body["schedule"]["cron"] == "0 2 * * *" and body["schedule"]["paused"] is False
    assert body["schedule"]["next_runs"][0].endswith(("T02:00:00Z", "T02:00:00+00:00"))
    assert resp.headers["Location"] == f"/api/v1/pipelines/{body['id']}"


async def test_a_run_answers_at_once_and_the_job_writes_the_file(client, tmp_path):
    # given
    dataset_id = await make_dataset(client, tmp_path)
    out = tmp_path / "out.parquet"
    pipeline = await (await client.post("/api/v1/pipelines", json=example(dataset_id, {"path": str(out)}))).json()
    # when
    resp = await client.post(f"/api/v1/pipelines/{pipeline['id']}/run")
    # then
    assert resp.status == 202
    job = await resp.json()
    assert job["id"].startswith("job_") and job["status"] == "pending" and job["trigger"] == "manual"
    done = await wait_job(client, job["id"])
    assert done["status"] == "succeeded" and done["percent_complete"] == 100.0 and done["pipeline_version"] == 1
    assert [(s["id"], s["rows_in"], s["rows_out"]) for s in done["steps"]] == [
        ("input", 3, 3), ("clean", 3, 1), ("output", 1, 1)]
    assert pl.read_parquet(out).rows() == [(1, "Ann", 30)]
    logs = await (await client.get(f"/api/v1/jobs/{job['id']}/logs")).json()
    assert logs["finished"] and [line["seq"] for line in logs["data"]] == list(range(1, len(logs["data"]) + 1))
    tail = await (await client.get(f"/api/v1/jobs/{job['id']}/logs?tail=1")).json()
    assert tail["data"][0]["message"].startswith("job succeeded")


async def test_the_same_idempotency_key_returns_the_same_job(client, tmp_path):
    # given
    dataset_id = await make_dataset(client, tmp_path)
    pipeline = await (await client.post("/api/v1/pipelines", json=example(dataset_id))).json()
    url = f"/api/v1/pipelines/{pipeline['id']}/run"
    # when
    first = await (await client.post(url, headers={"Idempotency-Key": "nightly-42"})).json()
    second = await (await client.post(url, headers={"Idempotency-Key": "nightly-42"})).json()
    third = await (await client.post(url, headers={"Idempotency-Key": "nightly-43"})).json()
    # then
    assert first["id"] == second["id"] != third["id"]
    listed = await (await client.get(f"/api/v1/jobs?pipeline_id={pipeline['id']}")).json()
    assert listed["meta"]["total"] == 2 and listed["data"][0]["id"] == third["id"]


async def test_following_logs_streams_every_line_then_the_end(client, tmp_path):
    # given a queued job
    dataset_id = await make_dataset(client, tmp_path)
    body = example(dataset_id, {"path": str(tmp_path / "o.csv")})
    pipeline = await (await client.post("/api/v1/pipelines", json=body)).json()
    job = await (await client.post(f"/api/v1/pipelines/{pipeline['id']}/run")).json()
    # when
    resp = await client.get(f"/api/v1/jobs/{job['id']}/logs?follow=true")
    lines = [orjson.loads(line) for line in (await resp.read()).splitlines()]
    # then the lines come in sequence without gap, and the last message is the end with the final job
    assert resp.headers["Content-Type"].startswith("application/x-ndjson")
    logs, end = lines[:-1], lines[-1]
    assert [line["seq"] for line in logs] == list(range(1, len(logs) + 1))
    assert end["type"] == "end" and end["status"] == "succeeded" and end["job"]["id"] == job["id"]
    # and following from a cursor gives only what comes after it
    rest = (await (await client.get(f"/api/v1/jobs/{job['id']}/logs?follow=true&after=2")).read()).splitlines()
    assert orjson.loads(rest[0])["seq"] == 3 and len(rest) == len(lines) - 2


async def test_an_update_is_a_new_version_and_deleting_removes_the_pipeline(client, tmp_path):
    # given
    dataset_id = await make_dataset(client, tmp_path)
    pipeline = await (await client.post("/api/v1/pipelines", json=example(dataset_id))).json()
    url = f"/api/v1/pipelines/{pipeline['id']}"
    # when
    updated = await client.put(url, json={"description": "v2"}, headers={"If-Match": f'"{pipeline["id"]}.1"'})
    stale = await client.put(url, json={"description": "v3"}, headers={"If-Match": f'"{pipeline["id"]}.1"'})
    versions = await (await client.get(f"{url}/versions")).json()
    deleted = await client.delete(url)
    # then
    assert (await updated.json())["version"] == 2 and stale.status == 412
    assert [v["version"] for v in versions["data"]] == [2, 1]
    assert deleted.status == 204 and (await client.get(url)).status == 404


async def test_schedule_set_pause_resume_and_remove(client, tmp_path):
    # given
    dataset_id = await make_dataset(client, tmp_path)
    body = example(dataset_id)
    del body["schedule"]
    pipeline = await (await client.post("/api/v1/pipelines", json=body)).json()
    url = f"/api/v1/pipelines/{pipeline['id']}/schedule"
    # when / then
    resp = await client.post(url, json={"cron": "30 2 * * *", "timezone": "Europe/Berlin"})
    scheduled = await resp.json()
    first_run = datetime.fromisoformat(scheduled["schedule"]["next_runs"][0])
    assert resp.status == 200 and first_run > datetime.now(UTC)
    # the answer is the pipeline with its schedule, as GET shows it (like every other write of a pipeline)
    assert scheduled["id"] == pipeline["id"] and scheduled["schedule"]["timezone"] == "Europe/Berlin"
    assert resp.headers["ETag"] == f'"{pipeline["id"]}.1"'
    assert (await (await client.get(f"/api/v1/pipelines/{pipeline['id']}")).json()) == scheduled
    assert first_run.astimezone(ZoneInfo("Europe/Berlin")).strftime("%H:%M") in {"02:30", "03:00"}
    paused = await (await client.post(f"{url}/pause")).json()
    assert paused["paused"] is True and paused["next_runs"] == []
    assert (await (await client.post(f"{url}/resume")).json())["paused"] is False
    assert (await client.delete(url)).status == 204
    assert (await (await client.get(f"/api/v1/pipelines/{pipeline['id']}")).json())["schedule"] is None
    assert (await client.post(f"{url}/pause")).status == 404


@pytest.mark.parametrize(("change", "field"), [
    ({"schedule": {"cron": "not a cron", "timezone": "UTC"}}, "schedule.cron"),
    ({"schedule": {"cron": "0 2 * * *", "timezone": "Nowhere/City"}}, "schedule.timezone"),
    ({"steps": [{"id": "a", "type": "teleport", "config": {}}]}, "steps[0].type"),
    ({"steps": [{"id": "a", "type": "data_source", "config": {"dataset_id": "ds_missing"}}]},
     "steps[0].config.dataset_id"),
    ({"steps": [{"id": "in", "type": "data_source", "config": {"dataset_id": "DS"}},
                {"id": "a", "type": "data_cleaner", "config": {}, "depends_on": ["b"]},
                {"id": "b", "type": "data_cleaner", "config": {}, "depends_on": ["a"]}]}, "steps[1].depends_on"),
    ({"steps": [{"id": "in", "type": "data_source", "config": {"dataset_id": "DS", "colour": "red"}}]},
     "steps[0].config.colour"),
    ({"owner": "me"}, "owner"),
])
async def test_invalid_pipelines_are_refused_with_the_field(client, tmp_path, change, field):
    # given
    dataset_id = await make_dataset(client, tmp_path)
    body = {**example(dataset_id), **orjson.loads(orjson.dumps(change).replace(b'"DS"', f'"{dataset_id}"'.encode()))}
    # when
    resp = await client.post("/api/v1/pipelines", json=body)
    # then
    assert resp.status == 400
    error = (await resp.json())["error"]
    assert error["code"] == "VALIDATION_ERROR" and error["details"]["field"] == field


async def test_job_refusals(client, tmp_path):
    # given a finished job
    dataset_id = await make_dataset(client, tmp_path)
    body = example(dataset_id, {"path": str(tmp_path / "o.csv")})
    pipeline = await (await client.post("/api/v1/pipelines", json=body)).json()
    job = await (await client.post(f"/api/v1/pipelines/{pipeline['id']}/run")).json()
    await wait_job(client, job["id"])
    # when / then
    finished = await client.post(f"/api/v1/jobs/{job['id']}/cancel")
    assert finished.status == 409 and (await finished.json())["error"]["code"] == "CONFLICT"
    assert (await client.get("/api/v1/jobs/job_unknown")).status == 404
    assert (await client.get("/api/v1/jobs/job_unknown/logs?follow=true")).status == 404
    assert (await client.post("/api/v1/pipelines/pl_unknown/run")).status == 404
    assert (await client.get("/api/v1/jobs?status=exploded")).status == 400
    assert (await client.get("/api/v1/jobs?created_after=yesterday")).status == 400
    reused = await client.post(f"/api/v1/pipelines/{pipeline['id']}/run", headers={"Idempotency-Key": "k"})
    other = await (await client.post("/api/v1/pipelines", json={**example(dataset_id), "name": "other"})).json()
    clash = await client.post(f"/api/v1/pipelines/{other['id']}/run", headers={"Idempotency-Key": "k"})
    assert reused.status == 202 and clash.status == 409


async def test_a_quiet_followed_job_gets_keepalive_lines_until_it_ends(start_app, settings, tmp_path, monkeypatch):
    # given a job held running by hand in an app that runs no jobs itself, and a short keep-alive period
    from server.engine.journal import Journal
    from server.engine.service import EVENT_BUS
    from server.models.engine import Job
    from server.rest import jobs as rest_jobs

    monkeypatch.setattr(rest_jobs, "KEEPALIVE_SECONDS", 0.05)
    quiet = await start_app(replace(settings, run_jobs=False, run_schedules=False))
    dataset_id = await make_dataset(quiet, tmp_path)
    pipeline = await (await quiet.post("/api/v1/pipelines", json=example(dataset_id, {
        "path": str(tmp_path / "o.csv")}))).json()
    job = await (await quiet.post(f"/api/v1/pipelines/{pipeline['id']}/run")).json()
    await Job.filter(id=job["id"]).update(status="running")
    # when the stream has been quiet long enough for keep-alives, then the job ends
    async with quiet.get(f"/api/v1/jobs/{job['id']}/logs?follow=true") as resp:
        first, second = orjson.loads(await resp.content.readline()), orjson.loads(await resp.content.readline())
        await Journal(job["id"], bus=quiet.app[EVENT_BUS]).update_job(status="succeeded")
        rest = [orjson.loads(line) for line in (await resp.read()).splitlines()]
    # then
    assert first == second == {"type": "keepalive"}
    assert rest[-1]["type"] == "end" and rest[-1]["status"] == "succeeded"
