"""Pipelines, schedules and jobs end alike through REST and GraphQL: one scenario, field by field, and the refusals."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

PIPELINE_FIELDS = """id name description version steps { id type config dependsOn }
  schedule { cron timezone paused nextRuns }"""
JOB_FIELDS = """id status trigger pipelineId pipelineVersion percentComplete statistics error cancelRequested claims
  waitingFor attempts { number status error } steps { stepId type status rowsIn rowsOut durationSeconds error }"""
CREATE = f"""mutation ($input: CreatePipelineInput!) {{
  createPipeline(input: $input) {{
    __typename ... on PipelineSuccess {{ pipeline {{ {PIPELINE_FIELDS} }} }}
    ... on ValidationError {{ code field reason }}
  }}
}}"""
UPDATE = """mutation ($id: ID!, $input: UpdatePipelineInput!) {
  updatePipeline(id: $id, input: $input) { __typename ... on PipelineSuccess { version } }
}"""
SCHEDULE = f"""mutation ($id: ID!, $schedule: ScheduleInput!) {{
  schedulePipeline(pipelineId: $id, schedule: $schedule) {{
    __typename ... on ScheduleSuccess {{ pipelineId paused pipeline {{ {PIPELINE_FIELDS} }} }}
    ... on ValidationError {{ code field reason }}
  }}
}}"""
PAUSE = """mutation ($id: ID!) { pauseSchedule(pipelineId: $id) { __typename ... on ScheduleSuccess { paused } } }"""
RUN = f"""mutation ($id: ID!) {{
  runPipeline(pipelineId: $id) {{ __typename ... on JobSuccess {{ job {{ {JOB_FIELDS} }} }} }}
}}"""
PIPELINE = f"query ($id: ID!) {{ pipeline(id: $id) {{ {PIPELINE_FIELDS} }} }}"
JOB = f"query ($id: ID!) {{ job(id: $id) {{ {JOB_FIELDS} }} }}"


async def gql(client, query: str, **variables) -> dict:
    body = await (await client.post("/graphql", json={"query": query, "variables": variables})).json()
    assert "errors" not in body, body
    return body["data"]


@pytest.fixture
async def quiet(start_app, settings):
    """An app that runs no jobs: a queued job stays as both surfaces first show it."""
    return await start_app(replace(settings, run_jobs=False, run_schedules=False))


async def steps_over(client, tmp_path) -> list[dict]:
    (tmp_path / "in.csv").write_text("id,name\n1,Ann\n2,Bob\n")
    dataset = await (await client.post("/api/v1/datasets", json={
        "name": "people", "source": {"type": "file", "path": str(tmp_path / "in.csv")}})).json()
    return [{"id": "input", "type": "data_source", "config": {"dataset_id": dataset["id"]}},
            {"id": "clean", "type": "data_cleaner", "config": {"remove_duplicates": True}, "depends_on": ["input"]},
            {"id": "output", "type": "data_sink", "config": {"path": str(tmp_path / "out.csv")}}]


def pipeline_of(body: dict) -> dict:
    """What both surfaces say of a pipeline, in one spelling (GraphQL's steps leave out keys not given)."""
    schedule = body["schedule"]
    return {
        "name": body["name"], "description": body["description"], "version": body["version"],
        "steps": [{"id": s["id"], "type": s["type"], "config": s["config"],
                   "depends_on": s.get("depends_on", s.get("dependsOn"))} for s in body["steps"]],
        "schedule": None if schedule is None else {
            "cron": schedule["cron"], "timezone": schedule["timezone"], "paused": schedule["paused"],
            "next_runs": [datetime.fromisoformat(run) for run in schedule.get("next_runs", schedule.get("nextRuns"))]},
    }


def job_of(body: dict) -> dict:
    steps = [(s.get("id", s.get("stepId")), s["type"], s["status"].lower(), s.get("rows_in", s.get("rowsIn")),
              s.get("duration_s", s.get("durationSeconds"))) for s in body["steps"]]
    return {"status": body["status"].lower(), "trigger": body["trigger"].lower(),
            "version": body.get("pipeline_version", body.get("pipelineVersion")),
            "percent": body.get("percent_complete", body.get("percentComplete")), "statistics": body["statistics"],
            "error": body["error"], "cancel": body.get("cancel_requested", body.get("cancelRequested")),
            "claims": body["claims"], "waiting_for": body.get("waiting_for", body.get("waitingFor")),
            "attempts": [(a["number"], a["status"].lower(), a["error"]) for a in body["attempts"]], "steps": steps}


async def via_rest(client, steps: list[dict]) -> tuple[dict, dict, dict, dict]:
    created = await (await client.post("/api/v1/pipelines", json={"name": "rest", "steps": steps})).json()
    url = f"/api/v1/pipelines/{created['id']}"
    await client.put(url, json={"description": "changed"})
    scheduled = await (await client.post(f"{url}/schedule", json={"cron": "30 2 * * *",
                                                                  "timezone": "Europe/Berlin"})).json()
    await client.post(f"{url}/schedule/pause")
    job = await (await client.post(f"{url}/run")).json()
    return (scheduled, await (await client.get(url)).json(), job,
            await (await client.get(f"/api/v1/jobs/{job['id']}")).json())


async def via_graphql(client, steps: list[dict]) -> tuple[dict, dict, dict, dict]:
    graph_steps = [{"id": s["id"], "type": s["type"], "config": s["config"],
                    **({"dependsOn": s["depends_on"]} if "depends_on" in s else {})} for s in steps]
    created = (await gql(client, CREATE, input={"name": "graphql", "steps": graph_steps}))["createPipeline"]
    pipeline_id = created["pipeline"]["id"]
    await gql(client, UPDATE, id=pipeline_id, input={"description": "changed"})
    scheduled = (await gql(client, SCHEDULE, id=pipeline_id, schedule={"cron": "30 2 * * *",
                                                                       "timezone": "Europe/Berlin"}))
    await gql(client, PAUSE, id=pipeline_id)
    job = (await gql(client, RUN, id=pipeline_id))["runPipeline"]["job"]
    return (scheduled["schedulePipeline"]["pipeline"], (await gql(client, PIPELINE, id=pipeline_id))["pipeline"],
            job, (await gql(client, JOB, id=job["id"]))["job"])


async def test_rest_and_graphql_agree_on_pipelines_schedules_and_jobs(quiet, tmp_path):
    # given
    steps = await steps_over(quiet, tmp_path)
    # when the same story is told through each surface
    rest = await via_rest(quiet, steps)
    graph = await via_graphql(quiet, steps)
    # then each step of it reads the same, names aside
    rest_scheduled, rest_final, rest_run, rest_job = rest
    graph_scheduled, graph_final, graph_run, graph_job = graph
    assert {**pipeline_of(rest_scheduled), "name": None} == {**pipeline_of(graph_scheduled), "name": None}
    assert {**pipeline_of(rest_final), "name": None} == {**pipeline_of(graph_final), "name": None}
    assert pipeline_of(rest_final)["schedule"]["paused"] is True and pipeline_of(rest_final)["version"] == 2
    assert len(pipeline_of(rest_scheduled)["schedule"]["next_runs"]) == 5
    assert job_of(rest_run) == job_of(graph_run) == job_of(rest_job) == job_of(graph_job)
    assert job_of(rest_job)["status"] == "pending" and len(job_of(rest_job)["steps"]) == 3


@pytest.mark.parametrize(("schedule", "part", "reason"), [
    ({"cron": "0 2 * *"}, "cron", "Expected 5 fields (minute hour day month weekday)"),
    ({"cron": "0 2 * * *", "timezone": "Mars/Olympus"}, "timezone", "Unknown time zone 'Mars/Olympus'"),
])
async def test_rest_and_graphql_refuse_a_bad_schedule_alike(quiet, tmp_path, schedule, part, reason):
    # given
    steps = await steps_over(quiet, tmp_path)
    created = await (await quiet.post("/api/v1/pipelines", json={"name": "p", "steps": steps})).json()
    # when
    rest = (await (await quiet.post(f"/api/v1/pipelines/{created['id']}/schedule", json=schedule)).json())["error"]
    graph = (await gql(quiet, SCHEDULE, id=created["id"], schedule=schedule))["schedulePipeline"]
    rest_create = (await (await quiet.post("/api/v1/pipelines", json={
        "name": "q", "steps": steps, "schedule": schedule})).json())["error"]
    graph_create = (await gql(quiet, CREATE, input={
        "name": "q", "steps": [{k: v for k, v in s.items() if k != "depends_on"} for s in steps],
        "schedule": schedule}))["createPipeline"]
    # then both name the field alike (the schedule is the body of the REST call), for the same reason
    assert (rest["code"], rest["details"]["field"], rest["details"]["reason"]) == (
        "VALIDATION_ERROR", f"body.{part}", reason)
    assert graph == {"__typename": "ValidationError", "code": "VALIDATION_ERROR", "field": f"body.{part}",
                     "reason": reason}
    assert (rest_create["details"]["field"], rest_create["details"]["reason"]) == (f"schedule.{part}", reason)
    assert (graph_create["field"], graph_create["reason"]) == (f"schedule.{part}", reason)
    # and nothing was scheduled or created
    assert (await (await quiet.get(f"/api/v1/pipelines/{created['id']}")).json())["schedule"] is None
    assert (await (await quiet.get("/api/v1/pipelines")).json())["meta"]["total"] == 1
