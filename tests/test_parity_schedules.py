"""The same schedule operations through REST and GraphQL end in the same schedules and the same refusals."""

from __future__ import annotations

from typing import Any

from tests.graphql.helpers import gql
from tests.parity import error_fields, field, gql_data, instant, narrow_key, pick, refusal, rest, rest_ok

SCHEDULE_FIELDS = "cron timezone paused nextRuns"
RESULT = f"""{error_fields("NotFoundError", "ValidationError")}
    ... on ScheduleSuccess {{ pipelineId paused schedule {{ {SCHEDULE_FIELDS} }} }}"""
SET = f"""mutation ($id: ID!, $schedule: ScheduleInput!) {{
  schedulePipeline(pipelineId: $id, schedule: $schedule) {{ {RESULT} }} }}"""
PAUSE = f"mutation ($id: ID!) {{ pauseSchedule(pipelineId: $id) {{ {RESULT} }} }}"
RESUME = f"mutation ($id: ID!) {{ resumeSchedule(pipelineId: $id) {{ {RESULT} }} }}"
REMOVE = f"mutation ($id: ID!) {{ removeSchedule(pipelineId: $id) {{ {RESULT} }} }}"
ACK = """mutation ($id: ID!, $schedule: ScheduleInput!) {
  schedulePipeline(pipelineId: $id, schedule: $schedule) {
    __typename ... on ScheduleSuccess { pipelineId paused } } }"""
PIPELINE = f"query ($id: ID!) {{ pipeline(id: $id) {{ id schedule {{ {SCHEDULE_FIELDS} }} }} }}"
SCHEDULED = "query ($on: Boolean!) { pipelines(filter: {scheduled: $on}) { nodes { id } } }"

NIGHTLY = {"cron": "30 2 * * *", "timezone": "Europe/Berlin"}
# The refusals every schedule write can meet, as (name, pipeline, body) with "PL" standing for a real pipeline.
REFUSALS = [
    ("bad_cron", "PL", {"cron": "every night", "timezone": "UTC"}),
    ("bad_zone", "PL", {"cron": "0 2 * * *", "timezone": "Nowhere/City"}),
    ("six_of_seven", "PL", {"cron": "0 0 2 * * * *"}),
    ("no_pipeline", "pl_missing", NIGHTLY),
]


def comparable(schedule: dict[str, Any] | None) -> dict[str, Any] | None:
    """Every field both surfaces show of a schedule, in one spelling (next runs as datetimes)."""
    if schedule is None:
        return None
    return {**pick(schedule, "cron", "timezone", "paused"),
            "next_runs": [instant(t) for t in field(schedule, "next_runs")]}


async def unscheduled_pipeline(client, tmp_path, name: str) -> str:
    (tmp_path / "in.csv").write_text("id\n1\n")
    dataset = await rest_ok(client, "POST", "/datasets", {"name": f"{name}_in", "source": {
        "type": "file", "path": str(tmp_path / "in.csv")}})
    made = await rest_ok(client, "POST", "/pipelines", {"name": name, "steps": [
        {"id": "input", "type": "data_source", "config": {"dataset_id": dataset["id"]}},
        {"id": "output", "type": "data_sink", "config": {"path": str(tmp_path / f"{name}.csv")}}]})
    return made["id"]


async def read_back(client, pipeline_id: str) -> dict[str, Any]:
    """The pipeline's schedule as each surface shows it now."""
    by_rest = (await rest_ok(client, "GET", f"/pipelines/{pipeline_id}"))["schedule"]
    by_graphql = (await gql_data(client, PIPELINE, {"id": pipeline_id}))["pipeline"]["schedule"]
    assert comparable(by_rest) == comparable(by_graphql)
    return by_rest


async def via_rest(client, pipeline_id: str) -> dict[str, Any]:
    url = f"/pipelines/{pipeline_id}/schedule"
    # The write answers the pipeline, like every write of a pipeline; its schedule is what GraphQL selects.
    steps = {"set": (await rest_ok(client, "POST", url, NIGHTLY))["schedule"]}
    steps["after_set"] = await read_back(client, pipeline_id)
    steps["scheduled"] = [p["id"] for p in (await rest_ok(client, "GET", "/pipelines?scheduled=true"))["data"]]
    steps["paused"] = await rest_ok(client, "POST", f"{url}/pause")
    steps["after_pause"] = await read_back(client, pipeline_id)
    steps["resumed"] = await rest_ok(client, "POST", f"{url}/resume")
    assert (await rest(client, "DELETE", url))[0] == 204
    steps["after_remove"] = await read_back(client, pipeline_id)
    steps["pause_removed"] = (await rest(client, "POST", f"{url}/pause"))[1]
    for name, target, body in REFUSALS:
        steps[name] = (await rest(client, "POST", f"/pipelines/{pipeline_id if target == 'PL' else target}/schedule",
                                  body))[1]
    return steps


async def via_graphql(client, pipeline_id: str) -> dict[str, Any]:
    steps = {"set": (await gql_data(client, SET, {"id": pipeline_id, "schedule": NIGHTLY}))["schedulePipeline"]}
    steps["after_set"] = await read_back(client, pipeline_id)
    steps["scheduled"] = [p["id"] for p in (await gql_data(client, SCHEDULED, {"on": True}))["pipelines"]["nodes"]]
    steps["paused"] = (await gql_data(client, PAUSE, {"id": pipeline_id}))["pauseSchedule"]
    steps["after_pause"] = await read_back(client, pipeline_id)
    steps["resumed"] = (await gql_data(client, RESUME, {"id": pipeline_id}))["resumeSchedule"]
    removed = (await gql_data(client, REMOVE, {"id": pipeline_id}))["removeSchedule"]
    assert removed == {"__typename": "ScheduleSuccess", "pipelineId": pipeline_id, "paused": None, "schedule": None}
    steps["after_remove"] = await read_back(client, pipeline_id)
    steps["pause_removed"] = (await gql_data(client, PAUSE, {"id": pipeline_id}))["pauseSchedule"]
    for name, target, body in REFUSALS:
        variables = {"id": pipeline_id if target == "PL" else target, "schedule": body}
        steps[name] = (await gql_data(client, SET, variables))["schedulePipeline"]
    return steps


async def test_the_same_scenario_gives_the_same_schedules_and_refusals(client, tmp_path):
    # given two unscheduled pipelines, one for each surface
    rest_pipeline = await unscheduled_pipeline(client, tmp_path, "by_rest")
    graphql_pipeline = await unscheduled_pipeline(client, tmp_path, "by_graphql")
    # when each surface sets, pauses, resumes and removes its pipeline's schedule, then meets every refusal
    by_rest = await via_rest(client, rest_pipeline)
    by_graphql = await via_graphql(client, graphql_pipeline)
    # then each step left the same schedule (read back through both surfaces alike, see read_back)
    assert comparable(by_rest["set"]) == comparable(by_graphql["set"]["schedule"])
    assert comparable(by_rest["paused"]) == comparable(by_graphql["paused"]["schedule"])
    assert comparable(by_rest["resumed"]) == comparable(by_graphql["resumed"]["schedule"])
    assert by_graphql["paused"]["paused"] is True and by_graphql["resumed"]["paused"] is False
    for stage in ("after_set", "after_pause", "after_remove"):
        assert comparable(by_rest[stage]) == comparable(by_graphql[stage]), stage
    assert by_rest["after_pause"]["next_runs"] == [] and by_rest["after_remove"] is None
    assert by_rest["scheduled"] == [rest_pipeline] and by_graphql["scheduled"] == [graphql_pipeline]
    # and the refusals carry the same codes and details
    assert refusal(by_rest["pause_removed"]) == ("NOT_FOUND", {"resource": "schedule", "id": rest_pipeline})
    assert refusal(by_graphql["pause_removed"]) == ("NOT_FOUND", {"resource": "schedule", "id": graphql_pipeline})
    for name, _, _ in REFUSALS:
        assert refusal(by_rest[name]) == refusal(by_graphql[name]), name
    assert refusal(by_rest["bad_zone"])[1]["field"] == "body.timezone"


async def test_a_schedule_set_through_one_surface_reads_the_same_through_the_other(client, tmp_path):
    # given
    pipeline_id = await unscheduled_pipeline(client, tmp_path, "shared")
    # when REST sets it and GraphQL pauses it
    set_by_rest = (await rest_ok(client, "POST", f"/pipelines/{pipeline_id}/schedule",
                                 {"cron": "0 */6 * * *", "timezone": "America/New_York"}))["schedule"]
    after_set = await read_back(client, pipeline_id)
    paused_by_graphql = (await gql_data(client, PAUSE, {"id": pipeline_id}))["pauseSchedule"]
    # then each surface shows the other's write exactly
    assert comparable(set_by_rest) == comparable(after_set)
    assert comparable(paused_by_graphql["schedule"]) == comparable(await read_back(client, pipeline_id))
    assert paused_by_graphql["schedule"]["paused"] is True


async def test_narrow_keys_and_other_workspaces_are_refused_alike(client, other_client, tmp_path):
    # given
    pipeline_id = await unscheduled_pipeline(client, tmp_path, "guarded")
    reader = await narrow_key(client, "read:pipelines")
    writer = await narrow_key(client, "write:pipelines")
    url = f"/pipelines/{pipeline_id}/schedule"
    # when a reader sets a schedule, and an admin of another workspace pauses it
    narrow = (await rest(reader, "POST", url, NIGHTLY), await gql(reader, SET, {"id": pipeline_id,
                                                                                 "schedule": NIGHTLY}))
    foreign = (await rest(other_client, "POST", url, NIGHTLY),
               (await gql_data(other_client, SET, {"id": pipeline_id, "schedule": NIGHTLY}))["schedulePipeline"])
    # then
    assert narrow[0][0] == 403
    assert refusal(narrow[0][1]) == refusal(narrow[1]) == ("FORBIDDEN", {"required_scope": "write:pipelines"})
    assert foreign[0][0] == 404
    assert refusal(foreign[0][1]) == refusal(foreign[1]) == ("NOT_FOUND", {"resource": "pipeline", "id": pipeline_id})
    assert await read_back(client, pipeline_id) is None
    # and a writer without read:pipelines gets the same acknowledgement from both
    acked_rest = await rest_ok(writer, "POST", url, NIGHTLY)
    acked_graphql = (await gql_data(writer, ACK, {"id": pipeline_id, "schedule": {**NIGHTLY, "paused": True}}))
    assert set(acked_rest) == {"id", "version"} and acked_rest["id"] == pipeline_id
    assert pick(acked_graphql["schedulePipeline"], "pipeline_id", "paused") == {"pipeline_id": pipeline_id,
                                                                                "paused": True}
