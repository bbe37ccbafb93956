"""Run controls read and refuse alike through REST and GraphQL: a pipeline's concurrency, retries and timeout,
and a skipped job's status, error and attempts."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tests.parity import camel_keys, enum, error_fields, field, gql_data, refusal, rest, rest_ok

CONTROLS = "concurrency retries { count delay backoff maxDelay } timeout"
CREATE = f"""mutation ($input: CreatePipelineInput!) {{
  createPipeline(input: $input) {{ {error_fields("ValidationError", "ConflictError")}
    ... on PipelineSuccess {{ pipeline {{ id {CONTROLS} }} }} }} }}"""
UPDATE = f"""mutation ($id: ID!, $input: UpdatePipelineInput!) {{
  updatePipeline(id: $id, input: $input) {{ {error_fields("ValidationError", "ConflictError")}
    ... on PipelineSuccess {{ version pipeline {{ id {CONTROLS} }} }} }} }}"""
RUN = """mutation ($id: ID!) { runPipeline(pipelineId: $id) { __typename ... on JobSuccess { job { id } } } }"""
JOB = """query ($id: ID!) { job(id: $id) { id status error waitingFor finishedAt claims
  attempts { number status error } steps { stepId status } } }"""
JOBS = """query ($filter: JobFilter) { jobs(first: 10, filter: $filter) { nodes { id status } } }"""


@pytest.fixture
async def quiet(start_app, settings):
    """An app that runs no jobs: a queued job stays as both surfaces first show it."""
    return await start_app(replace(settings, run_jobs=False, run_schedules=False))


async def steps_over(client, tmp_path) -> list[dict[str, Any]]:
    (tmp_path / "in.csv").write_text("id,name\n1,Ann\n2,Bob\n")
    dataset = await rest_ok(client, "POST", "/datasets", {"name": "people", "source": {
        "type": "file", "path": str(tmp_path / "in.csv")}})
    return [{"id": "input", "type": "data_source", "config": {"dataset_id": dataset["id"]}},
            {"id": "output", "type": "data_sink", "config": {"path": str(tmp_path / "out.csv")}}]


def controls(body: dict[str, Any]) -> dict[str, Any]:
    retries = body["retries"]
    return {"concurrency": enum(body["concurrency"]), "timeout": body["timeout"],
            "retries": None if retries is None else {k: field(retries, k) for k in ("count", "delay", "backoff",
                                                                                      "max_delay")}}


def job_of(body: dict[str, Any]) -> dict[str, Any]:
    return {"status": enum(body["status"]), "error": body["error"], "waiting_for": field(body, "waiting_for"),
            "claims": body["claims"], "finished": field(body, "finished_at") is not None,
            "attempts": [(a["number"], enum(a["status"]), a["error"]) for a in body["attempts"]],
            "steps": [(s.get("id", s.get("stepId")), enum(s["status"])) for s in body["steps"]]}


async def test_run_controls_are_set_and_read_alike(quiet, tmp_path):
    # given one definition with every control, sent through each surface
    steps = await steps_over(quiet, tmp_path)
    given = {"concurrency": "skip", "retries": {"count": 2, "delay": "30s", "backoff": 3, "max_delay": 600},
             "timeout": "15m"}
    # when
    made = await rest_ok(quiet, "POST", "/pipelines", {"name": "rest", "steps": steps, **given})
    graph = (await gql_data(quiet, CREATE, {"input": {"name": "graphql", "steps": steps,
                                                      **camel_keys(given), "concurrency": "SKIP"}}))
    graph_made = graph["createPipeline"]["pipeline"]
    # then both store and show the same controls, times in seconds
    expected = {"concurrency": "skip", "timeout": 900.0,
                "retries": {"count": 2, "delay": 30.0, "backoff": 3.0, "max_delay": 600.0}}
    assert controls(made) == controls(graph_made) == expected
    assert controls(await rest_ok(quiet, "GET", f"/pipelines/{graph_made['id']}")) == expected
    # when both remove the retries and timeout and change the policy
    changed = {"concurrency": "allow", "retries": None, "timeout": None}
    rest_changed = await rest_ok(quiet, "PUT", f"/pipelines/{made['id']}", changed)
    graph_changed = (await gql_data(quiet, UPDATE, {"id": graph_made["id"], "input": {
        **changed, "concurrency": "ALLOW"}}))["updatePipeline"]
    # then alike, and no new version (controls are settings, not definition)
    assert controls(rest_changed) == controls(graph_changed["pipeline"]) == {
        "concurrency": "allow", "timeout": None, "retries": None}
    assert rest_changed["version"] == graph_changed["version"] == 1


async def test_a_skipped_run_reads_the_same_on_both_surfaces(quiet, tmp_path):
    # given a `skip` pipeline with a run waiting, and a second run asked for
    steps = await steps_over(quiet, tmp_path)
    made = await rest_ok(quiet, "POST", "/pipelines", {"name": "p", "steps": steps, "concurrency": "skip"})
    first = await rest_ok(quiet, "POST", f"/pipelines/{made['id']}/run")
    # when
    via_rest = await rest_ok(quiet, "POST", f"/pipelines/{made['id']}/run")
    via_graph = (await gql_data(quiet, RUN, {"id": made["id"]}))["runPipeline"]["job"]
    # then both new runs are recorded skipped with the reason, and read the same through either surface
    rest_read = await rest_ok(quiet, "GET", f"/jobs/{via_rest['id']}")
    graph_read = (await gql_data(quiet, JOB, {"id": via_rest["id"]}))["job"]
    expected = {"status": "skipped", "error": f"skipped: {first['id']} of this pipeline is active (concurrency: skip)",
                "waiting_for": None, "claims": 0, "finished": True, "attempts": [],
                "steps": [("input", "skipped"), ("output", "skipped")]}
    assert job_of(via_rest) == job_of(rest_read) == job_of(graph_read) == expected
    assert job_of((await gql_data(quiet, JOB, {"id": via_graph["id"]}))["job"]) == expected
    # and both list filters name the new statuses alike
    rest_list = await rest_ok(quiet, "GET", "/jobs?status=skipped")
    graph_list = (await gql_data(quiet, JOBS, {"filter": {"status": "SKIPPED"}}))["jobs"]["nodes"]
    assert {j["id"] for j in rest_list["data"]} == {j["id"] for j in graph_list} == {via_rest["id"], via_graph["id"]}


@pytest.mark.parametrize(("given", "where"), [
    ({"concurrency": "sometimes"}, "concurrency"),
    ({"timeout": "soon"}, "timeout"),
    ({"timeout": 0}, "timeout"),
    ({"retries": {"count": -1}}, "retries.count"),
    ({"retries": {"count": 1, "backoff": 0.5}}, "retries.backoff"),
    ({"retries": {"count": 1, "delay": "40d"}}, "retries.delay"),
])
async def test_bad_run_controls_are_refused_alike(quiet, tmp_path, given, where):
    # given
    steps = await steps_over(quiet, tmp_path)
    # when
    status, rest_body = await rest(quiet, "POST", "/pipelines", {"name": "p", "steps": steps, **given})
    graph_input = camel_keys(given)
    if "concurrency" in given:
        graph_input["concurrency"] = "SOMETIMES"
    graph = await gql_data(quiet, CREATE, {"input": {"name": "p", "steps": steps, **graph_input}}) \
        if "concurrency" not in given else None
    # then REST answers 400 naming the field; GraphQL the same code and field (an unknown enum is refused
    # by GraphQL's own validation, before the domain)
    code, details = refusal(rest_body)
    assert (status, code, details["field"]) == (400, "VALIDATION_ERROR", where)
    if graph is not None:
        result = graph["createPipeline"]
        assert (result["__typename"], result["code"], result["field"]) == ("ValidationError", "VALIDATION_ERROR",
                                                                          where)
