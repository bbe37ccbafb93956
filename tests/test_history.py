"""History kept (issue 10): a deleted pipeline's jobs stay readable on both surfaces, its name is free again,
a dataset in use is not deleted unless forced, and each pipeline's log level decides what its jobs' logs keep."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.parity import error_fields, gql_data, refusal, rest, rest_ok

JOB = """query ($id: ID!) { job(id: $id) { id status pipelineId pipelineDeleted pipeline { id }
    steps { stepId status } } }"""
JOBS = """query ($pipelineId: ID!) { jobs(first: 10, filter: {pipelineId: $pipelineId}) {
    totalCount nodes { id pipelineDeleted } } }"""
LOGS = "query ($id: ID!) { jobLogs(jobId: $id) { lines { seq level message } finished } }"
PIPELINE = "query ($id: ID!) { pipeline(id: $id) { id name logLevel } }"
DELETE_PIPELINE = f"""mutation ($id: ID!) {{ deletePipeline(id: $id) {{
    {error_fields("NotFoundError", "ConflictError")} ... on DeletePipelineSuccess {{ deletedId }} }} }}"""
RUN = f"""mutation ($id: ID!) {{ runPipeline(pipelineId: $id) {{
    {error_fields("NotFoundError", "ValidationError", "ConflictError")} ... on JobSuccess {{ jobId }} }} }}"""
RETRY = f"""mutation ($id: ID!) {{ retryJob(id: $id) {{
    {error_fields("NotFoundError", "ConflictError", "ValidationError")} ... on JobSuccess {{ jobId }} }} }}"""
CREATE = f"""mutation ($input: CreatePipelineInput!) {{ createPipeline(input: $input) {{
    {error_fields("ValidationError", "ConflictError")}
    ... on PipelineSuccess {{ pipeline {{ id name logLevel }} }} }} }}"""
UPDATE = f"""mutation ($id: ID!, $input: UpdatePipelineInput!) {{ updatePipeline(id: $id, input: $input) {{
    {error_fields("NotFoundError", "ValidationError", "ConflictError", "PreconditionFailedError")}
    ... on PipelineSuccess {{ pipeline {{ id logLevel version }} }} }} }}"""
DELETE_DATASET = f"""mutation ($id: ID!, $force: Boolean! = false) {{ deleteDataset(id: $id, force: $force) {{
    {error_fields("NotFoundError", "PreconditionFailedError", "ConflictError")}
    ... on DeleteDatasetSuccess {{ deletedId }} }} }}"""


async def make_dataset(client, tmp_path, name: str = "people") -> str:
    (tmp_path / f"{name}.csv").write_text("id,name\n1,Ann\n1,Ann\n2,Bob\n")
    made = await rest_ok(client, "POST", "/datasets", {"name": name, "source": {
        "type": "file", "path": str(tmp_path / f"{name}.csv")}})
    return made["id"]


def definition(name: str, dataset_id: str, tmp_path, **extra: Any) -> dict[str, Any]:
    return {"name": name, "steps": [
        {"id": "input", "type": "data_source", "config": {"dataset_id": dataset_id}},
        {"id": "clean", "type": "data_cleaner", "config": {"remove_duplicates": True}},
        {"id": "output", "type": "data_sink", "config": {"path": str(tmp_path / f"{name}.out.csv")}}], **extra}


async def finished(client, job_id: str) -> dict[str, Any]:
    """The job once it has ended: follows its log stream, which ends when the job does."""
    resp = await client.get(f"/api/v1/jobs/{job_id}/logs?follow=true")
    assert resp.status == 200
    await asyncio.wait_for(resp.read(), timeout=60)
    return await rest_ok(client, "GET", f"/jobs/{job_id}")


async def ran(client, pipeline_id: str) -> dict[str, Any]:
    job = await rest_ok(client, "POST", f"/pipelines/{pipeline_id}/run")
    return await finished(client, job["id"])


async def test_a_deleted_pipelines_jobs_stay_readable_and_listable_on_both_surfaces(client, tmp_path):
    # given a pipeline with a finished job
    dataset_id = await make_dataset(client, tmp_path)
    pipeline = await rest_ok(client, "POST", "/pipelines", definition("nightly", dataset_id, tmp_path))
    job = await ran(client, pipeline["id"])
    assert job["status"] == "succeeded" and job["pipeline_deleted"] is False
    lines_before = (await rest_ok(client, "GET", f"/jobs/{job['id']}/logs"))
    # when the pipeline is deleted
    assert (await rest(client, "DELETE", f"/pipelines/{pipeline['id']}"))[0] == 204
    # then the job, its steps and logs read as before on REST, with the pipeline shown as deleted
    by_rest = await rest_ok(client, "GET", f"/jobs/{job['id']}")
    assert by_rest["pipeline_deleted"] is True and by_rest["status"] == "succeeded"
    assert by_rest["steps"] == job["steps"] and by_rest["statistics"] == job["statistics"]
    listed = await rest_ok(client, "GET", f"/jobs?pipeline_id={pipeline['id']}")
    assert [(j["id"], j["pipeline_deleted"]) for j in listed["data"]] == [(job["id"], True)]
    assert await rest_ok(client, "GET", f"/jobs/{job['id']}/logs") == lines_before
    # and on GraphQL, where the pipeline itself is null
    by_graphql = (await gql_data(client, JOB, {"id": job["id"]}))["job"]
    assert by_graphql["pipelineDeleted"] is True and by_graphql["pipeline"] is None
    assert by_graphql["pipelineId"] == pipeline["id"]
    assert [s["status"] for s in by_graphql["steps"]] == [s["status"] for s in job["steps"]]
    listed_graphql = (await gql_data(client, JOBS, {"pipelineId": pipeline["id"]}))["jobs"]
    assert listed_graphql == {"totalCount": 1, "nodes": [{"id": job["id"], "pipelineDeleted": True}]}
    logs = (await gql_data(client, LOGS, {"id": job["id"]}))["jobLogs"]
    assert [line["seq"] for line in logs["lines"]] == [line["seq"] for line in lines_before["data"]]
    assert logs["finished"] is True
    # and the pipeline itself is gone for every read, write and run, on both surfaces
    for method, path, body in (("GET", "", None), ("PUT", "", {"description": "x"}), ("POST", "/run", None),
                               ("GET", "/versions", None), ("DELETE", "", None)):
        status, answer = await rest(client, method, f"/pipelines/{pipeline['id']}{path}", body)
        assert (status, refusal(answer)[0]) == (404, "NOT_FOUND"), (method, path)
    assert (await rest_ok(client, "GET", "/pipelines"))["data"] == []
    assert (await gql_data(client, PIPELINE, {"id": pipeline["id"]}))["pipeline"] is None
    assert refusal((await gql_data(client, RUN, {"id": pipeline["id"]}))["runPipeline"])[0] == "NOT_FOUND"
    assert refusal((await gql_data(client, DELETE_PIPELINE, {"id": pipeline["id"]}))["deletePipeline"])[0] \
        == "NOT_FOUND"
    # and its job cannot be retried (there is no pipeline to run; REST has no retry route)
    assert refusal((await gql_data(client, RETRY, {"id": job["id"]}))["retryJob"]) == (
        "CONFLICT", {"job_id": job["id"], "pipeline_id": pipeline["id"]})


async def test_the_name_of_a_deleted_pipeline_can_be_used_again(client, tmp_path):
    # given a pipeline that ran once, deleted through GraphQL
    dataset_id = await make_dataset(client, tmp_path)
    old = await rest_ok(client, "POST", "/pipelines", definition("daily", dataset_id, tmp_path))
    old_job = await ran(client, old["id"])
    deleted = (await gql_data(client, DELETE_PIPELINE, {"id": old["id"]}))["deletePipeline"]
    assert deleted == {"__typename": "DeletePipelineSuccess", "deletedId": old["id"]}
    # when a new pipeline takes its name, then is renamed and another takes the name again
    new = await rest_ok(client, "POST", "/pipelines", definition("daily", dataset_id, tmp_path))
    taken = await rest(client, "POST", "/pipelines", definition("daily", dataset_id, tmp_path))
    # then the new one is another pipeline, the name is held by it only, and the old job is untouched
    assert new["id"] != old["id"] and new["name"] == "daily"
    assert taken[0] == 409 and refusal(taken[1])[0] == "CONFLICT"
    assert [p["name"] for p in (await rest_ok(client, "GET", "/pipelines?name=daily"))["data"]] == ["daily"]
    assert (await rest_ok(client, "GET", f"/jobs?pipeline_id={new['id']}"))["data"] == []
    assert (await rest_ok(client, "GET", f"/jobs/{old_job['id']}"))["pipeline_deleted"] is True


async def test_a_pipeline_with_a_pending_job_is_not_deleted_until_the_job_ends(start_app, settings, tmp_path):
    # given a server that runs no jobs, and a pipeline with a schedule and a pending job
    from dataclasses import replace
    client = await start_app(replace(settings, run_jobs=False, run_schedules=False))
    dataset_id = await make_dataset(client, tmp_path)
    pipeline = await rest_ok(client, "POST", "/pipelines", definition(
        "held", dataset_id, tmp_path, schedule={"cron": "0 2 * * *"}))
    job = await rest_ok(client, "POST", f"/pipelines/{pipeline['id']}/run")
    # when it is deleted on both surfaces
    status, answer = await rest(client, "DELETE", f"/pipelines/{pipeline['id']}")
    by_graphql = (await gql_data(client, DELETE_PIPELINE, {"id": pipeline["id"]}))["deletePipeline"]
    # then both refuse alike and the pipeline is still there
    assert status == 409
    assert refusal(answer) == refusal(by_graphql) == ("CONFLICT", {"pipeline_id": pipeline["id"]})
    assert (await rest_ok(client, "GET", f"/pipelines/{pipeline['id']}"))["schedule"] is not None
    # when the job is cancelled, the delete goes through and the schedule went with the pipeline
    await rest_ok(client, "POST", f"/jobs/{job['id']}/cancel")
    assert (await rest(client, "DELETE", f"/pipelines/{pipeline['id']}"))[0] == 204
    assert (await rest_ok(client, "GET", "/pipelines?scheduled=true"))["data"] == []
    assert (await rest_ok(client, "GET", f"/jobs/{job['id']}"))["status"] == "cancelled"


async def rule(client, dataset_id: str, name: str, **overrides: Any) -> dict[str, Any]:
    body = {"name": name, "dataset_id": dataset_id, "rule_type": "not_null", "config": {"column": "id"},
            **overrides}
    return await rest_ok(client, "POST", "/quality/rules", body)


async def test_a_dataset_in_use_is_refused_naming_its_users_then_deleted_when_forced(client, tmp_path):
    # given a dataset read by a pipeline, checked by a rule of its own, and referenced by a rule of another
    used = await make_dataset(client, tmp_path, "people")
    other = await make_dataset(client, tmp_path, "orders")
    pipeline = await rest_ok(client, "POST", "/pipelines", definition("reader", used, tmp_path))
    own = await rule(client, used, "ids present")
    referencing = await rule(client, other, "known people", rule_type="referential",
                             config={"column": "id", "dataset_id": used, "ref_column": "id"})
    # and a deleted pipeline that read it (history only: not a user)
    gone = await rest_ok(client, "POST", "/pipelines", definition("gone", used, tmp_path))
    await rest_ok(client, "DELETE", f"/pipelines/{gone['id']}")
    # when it is deleted without force on both surfaces
    status, answer = await rest(client, "DELETE", f"/datasets/{used}")
    by_graphql = (await gql_data(client, DELETE_DATASET, {"id": used}))["deleteDataset"]
    # then both refuse with CONFLICT naming the same users, and nothing was deleted
    expected = {"dataset_id": used, "pipelines": [{"id": pipeline["id"], "name": "reader"}], "pipelines_total": 1,
                "quality_rules": [
                    {"id": own["id"], "name": "ids present", "dataset_id": used, "relation": "checks"},
                    {"id": referencing["id"], "name": "known people", "dataset_id": other,
                     "relation": "references"}],
                "quality_rules_total": 2}
    assert status == 409
    assert refusal(answer) == refusal(by_graphql) == ("CONFLICT", expected)
    assert (await rest_ok(client, "GET", f"/datasets/{used}"))["id"] == used
    assert (await rest_ok(client, "GET", f"/quality/rules/{own['id']}"))["id"] == own["id"]
    # when forced through REST
    assert (await rest(client, "DELETE", f"/datasets/{used}?force=true"))[0] == 204
    # then it is gone with its own rule, and the users of the other surface are unchanged
    assert (await rest(client, "GET", f"/datasets/{used}"))[0] == 404
    assert (await rest(client, "GET", f"/quality/rules/{own['id']}"))[0] == 404
    assert (await rest_ok(client, "GET", f"/pipelines/{pipeline['id']}"))["id"] == pipeline["id"]


async def test_graphql_forces_the_delete_of_a_dataset_a_quality_check_step_uses(client, tmp_path):
    # given a dataset whose saved rule gates another dataset's pipeline (used through the rule)
    gated = await make_dataset(client, tmp_path, "gated")
    source = await make_dataset(client, tmp_path, "source")
    saved = await rule(client, gated, "gate rule")
    pipeline = await rest_ok(client, "POST", "/pipelines", {"name": "gated run", "steps": [
        {"id": "input", "type": "data_source", "config": {"dataset_id": source}},
        {"id": "gate", "type": "quality_check", "config": {"rules": [saved["id"]]}},
        {"id": "output", "type": "data_sink", "config": {"path": str(tmp_path / "gated.out.csv")}}]})
    # when deleted without force, then with force, through GraphQL
    refused = (await gql_data(client, DELETE_DATASET, {"id": gated}))["deleteDataset"]
    forced = (await gql_data(client, DELETE_DATASET, {"id": gated, "force": True}))["deleteDataset"]
    # then the refusal names the pipeline, and the forced delete goes through
    code, details = refusal(refused)
    assert code == "CONFLICT"
    assert details["pipelines"] == [{"id": pipeline["id"], "name": "gated run"}]
    assert [r["id"] for r in details["quality_rules"]] == [saved["id"]]
    assert forced == {"__typename": "DeleteDatasetSuccess", "deletedId": gated}
    # and a dataset nobody uses is deleted without force
    assert (await rest(client, "DELETE", f"/datasets/{await make_dataset(client, tmp_path, 'lonely')}"))[0] == 204


def to_warehouse(name: str, dataset_id: str, **extra: Any) -> dict[str, Any]:
    """A pipeline writing to a database table: its sink logs a debug line per staged batch."""
    return {"name": name, "steps": [
        {"id": "input", "type": "data_source", "config": {"dataset_id": dataset_id}},
        {"id": "output", "type": "data_sink", "config": {"destination": f"warehouse.{name}"}}], **extra}


async def test_each_pipelines_log_level_decides_which_lines_its_jobs_store(start_app, settings, tmp_path):
    # given a server with a warehouse, and three pipelines writing to it: one at debug (REST), one at
    # warning (GraphQL), one left to the server's level (info)
    from dataclasses import replace
    client = await start_app(replace(settings, connections={"warehouse": f"sqlite:///{tmp_path / 'wh.db'}"}))
    dataset_id = await make_dataset(client, tmp_path)
    chatty = await rest_ok(client, "POST", "/pipelines", to_warehouse("chatty", dataset_id, log_level="debug"))
    quiet = (await gql_data(client, CREATE, {"input": {**to_warehouse("quiet", dataset_id),
                                                       "logLevel": "WARNING"}}))["createPipeline"]["pipeline"]
    plain = await rest_ok(client, "POST", "/pipelines", to_warehouse("plain", dataset_id))
    invalid = await rest(client, "POST", "/pipelines", to_warehouse("bad", dataset_id, log_level="loud"))
    # then each shows its level on both surfaces, and an unknown level is refused naming the field
    assert (chatty["log_level"], quiet["logLevel"], plain["log_level"]) == ("debug", "WARNING", None)
    assert (await gql_data(client, PIPELINE, {"id": chatty["id"]}))["pipeline"]["logLevel"] == "DEBUG"
    assert (await rest_ok(client, "GET", f"/pipelines/{quiet['id']}"))["log_level"] == "warning"
    assert invalid[0] == 400 and refusal(invalid[1])[1]["field"] == "log_level"
    # when each runs
    levels = {}
    for pipeline_id in (chatty["id"], quiet["id"], plain["id"]):
        job = await ran(client, pipeline_id)
        assert job["status"] == "succeeded"
        lines = (await rest_ok(client, "GET", f"/jobs/{job['id']}/logs"))["data"]
        levels[pipeline_id] = ({line["level"] for line in lines}, [line["message"] for line in lines])
    # then the debug pipeline stored the data plane's debug lines, the others not; warning stored no info
    assert "debug" in levels[chatty["id"]][0]
    assert any(m.startswith("staged ") for m in levels[chatty["id"]][1])
    assert levels[plain["id"]][0] == {"info"}
    assert levels[quiet["id"]][0] <= {"warning", "error"}
    # when the level is changed on GraphQL (no new version) and reset to the server's on REST
    changed = (await gql_data(client, UPDATE, {"id": plain["id"], "input": {"logLevel": "ERROR"}}))[
        "updatePipeline"]["pipeline"]
    reset = await rest_ok(client, "PUT", f"/pipelines/{chatty['id']}", {"log_level": None})
    # then
    assert changed == {"id": plain["id"], "logLevel": "ERROR", "version": 1}
    assert reset["log_level"] is None and reset["version"] == 1
