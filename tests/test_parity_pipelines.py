"""The same pipeline operations through REST and GraphQL end in the same state and the same refusals."""

from __future__ import annotations

from typing import Any

from tests.graphql.helpers import gql
from tests.parity import (
    camel_keys,
    error_fields,
    field,
    gql_data,
    instant,
    narrow_key,
    pick,
    refusal,
    rest,
    rest_ok,
    standing_in,
)

PIPELINE_FIELDS = """id name description version createdBy createdAt updatedAt
    steps { id type config dependsOn } schedule { cron timezone paused nextRuns }"""
CREATE_ERRORS = error_fields("ValidationError", "ConflictError")
UPDATE_ERRORS = error_fields("NotFoundError", "ValidationError", "ConflictError", "PreconditionFailedError")
DELETE_ERRORS = error_fields("NotFoundError", "ConflictError")
CREATE = f"""mutation ($input: CreatePipelineInput!) {{
  createPipeline(input: $input) {{
    {CREATE_ERRORS} ... on PipelineSuccess {{ pipeline {{ {PIPELINE_FIELDS} }} }} }} }}"""
UPDATE = f"""mutation ($id: ID!, $input: UpdatePipelineInput!, $expected: Int) {{
  updatePipeline(id: $id, input: $input, expectedVersion: $expected) {{
    {UPDATE_ERRORS} ... on PipelineSuccess {{ pipeline {{ {PIPELINE_FIELDS} }} }} }} }}"""
DELETE = f"""mutation ($id: ID!) {{
  deletePipeline(id: $id) {{ {DELETE_ERRORS} ... on DeletePipelineSuccess {{ deletedId }} }} }}"""
ONE = f"query ($id: ID!) {{ pipeline(id: $id) {{ {PIPELINE_FIELDS} versions {{ totalCount nodes {{ version name "\
      f"description createdBy steps {{ id type config dependsOn }} }} }} }} }}"
MANY = f"""query ($filter: PipelineFilter) {{
  pipelines(first: 50, filter: $filter) {{ totalCount nodes {{ {PIPELINE_FIELDS} }} }} }}"""


def step(spec: dict[str, Any]) -> dict[str, Any]:
    """One step; a missing `depends_on` (REST stores the step as given) is the same as GraphQL's null."""
    return {"id": spec["id"], "type": spec["type"], "config": spec["config"],
            "depends_on": spec.get("depends_on", spec.get("dependsOn"))}


def comparable(pipeline: dict[str, Any]) -> dict[str, Any]:
    """Every field both surfaces show of a pipeline, in one spelling (snake_case, times as datetimes)."""
    schedule = field(pipeline, "schedule")
    return {
        **pick(pipeline, "id", "name", "description", "version", "created_by"),
        "created_at": instant(field(pipeline, "created_at")), "updated_at": instant(field(pipeline, "updated_at")),
        "steps": [step(s) for s in pipeline["steps"]],
        "schedule": None if schedule is None else {
            **pick(schedule, "cron", "timezone", "paused"),
            "next_runs": [instant(t) for t in field(schedule, "next_runs")]},
    }


def shape(pipeline: dict[str, Any]) -> dict[str, Any]:
    """What two pipelines made by the same scenario share: all but identity, name and times."""
    return {k: v for k, v in comparable(pipeline).items() if k not in {"id", "name", "created_at", "updated_at"}}


def version(entry: dict[str, Any]) -> dict[str, Any]:
    return {**pick(entry, "version", "description", "created_by"), "steps": [step(s) for s in entry["steps"]]}


async def make_dataset(client, tmp_path) -> str:
    (tmp_path / "people.csv").write_text("id,name\n1,Ann\n1,Ann\n2,Bob\n")
    made = await rest_ok(client, "POST", "/datasets", {"name": "people", "source": {
        "type": "file", "path": str(tmp_path / "people.csv")}})
    return made["id"]


def steps(dataset_id: str, tmp_path, clean: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return [{"id": "input", "type": "data_source", "config": {"dataset_id": dataset_id}},
            {"id": "clean", "type": "data_cleaner", "config": clean or {"remove_duplicates": True}},
            {"id": "output", "type": "data_sink", "config": {"path": str(tmp_path / "out.csv")},
             "depends_on": ["clean"]}]


def definition(name: str, dataset_id: str, tmp_path) -> dict[str, Any]:
    return {"name": name, "description": "copy people", "steps": steps(dataset_id, tmp_path),
            "schedule": {"cron": "0 2 * * *", "timezone": "Europe/Paris"}}


CHANGE = {"description": "v2"}
BAD_STEP = {"id": "a", "type": "teleport", "config": {}}


async def via_rest(client, dataset_id: str, tmp_path) -> dict[str, Any]:
    """The scenario through REST: create, update, read, list filtered, versions, then every refusal."""
    created = await rest_ok(client, "POST", "/pipelines", definition("rest_copy", dataset_id, tmp_path))
    url = f"/pipelines/{created['id']}"
    change = {**CHANGE, "steps": steps(dataset_id, tmp_path, {"remove_duplicates": True, "trim": True})}
    updated = await rest_ok(client, "PUT", url, change, headers={"If-Match": f'"{created["id"]}.1"'})
    listed = await rest_ok(client, "GET", f"/pipelines?name=REST_&scheduled=true&dataset_id={dataset_id}")
    unscheduled = await rest_ok(client, "GET", "/pipelines?name=rest_&scheduled=false")
    refusals = {
        "invalid": await rest(client, "POST", "/pipelines", {"name": "bad", "steps": [BAD_STEP]}),
        "taken": await rest(client, "POST", "/pipelines", definition("rest_copy", dataset_id, tmp_path)),
        "stale": await rest(client, "PUT", url, CHANGE, headers={"If-Match": f'"{created["id"]}.1"'}),
        "missing": await rest(client, "PUT", "/pipelines/pl_missing", CHANGE),
    }
    read = await rest_ok(client, "GET", url)
    dropped = await rest_ok(client, "PUT", url, {"schedule": None})
    return {"created": created, "updated": updated, "read": read, "dropped": dropped,
            "versions": (await rest_ok(client, "GET", f"{url}/versions"))["data"], "listed": listed["data"],
            "unscheduled": unscheduled["data"], "refusals": {k: body for k, (_, body) in refusals.items()}}


async def via_graphql(client, dataset_id: str, tmp_path) -> dict[str, Any]:
    """The same scenario through GraphQL."""
    created = (await gql_data(client, CREATE, {"input": camel_keys(definition("graphql_copy", dataset_id, tmp_path))}))[
        "createPipeline"]["pipeline"]
    change = {**CHANGE, "steps": steps(dataset_id, tmp_path, {"remove_duplicates": True, "trim": True})}
    updated = (await gql_data(client, UPDATE, {"id": created["id"], "input": camel_keys(change), "expected": 1}))[
        "updatePipeline"]["pipeline"]
    read = (await gql_data(client, ONE, {"id": created["id"]}))["pipeline"]
    listed = await gql_data(client, MANY, {"filter": {"name": "GRAPHQL_", "scheduled": True, "datasetId": dataset_id}})
    unscheduled = await gql_data(client, MANY, {"filter": {"name": "graphql_", "scheduled": False}})
    refusals = {
        "invalid": await gql(client, CREATE, {"input": {"name": "bad", "steps": [BAD_STEP]}}),
        "taken": await gql(client, CREATE, {"input": camel_keys(definition("graphql_copy", dataset_id, tmp_path))}),
        "stale": await gql(client, UPDATE, {"id": created["id"], "input": CHANGE, "expected": 1}),
        "missing": await gql(client, UPDATE, {"id": "pl_missing", "input": CHANGE}),
    }
    dropped = (await gql_data(client, UPDATE, {"id": created["id"], "input": {"schedule": None}}))[
        "updatePipeline"]["pipeline"]
    return {"created": created, "updated": updated, "read": read, "dropped": dropped,
            "versions": read["versions"]["nodes"],
            "listed": listed["pipelines"]["nodes"], "unscheduled": unscheduled["pipelines"]["nodes"],
            "refusals": {k: next(iter(body["data"].values())) for k, body in refusals.items()}}


async def test_the_same_scenario_gives_the_same_pipelines_and_refusals(client, tmp_path):
    # given
    dataset_id = await make_dataset(client, tmp_path)
    # when
    by_rest = await via_rest(client, dataset_id, tmp_path)
    by_graphql = await via_graphql(client, dataset_id, tmp_path)
    # then every state along the way has the same shape on both surfaces
    for stage in ("created", "updated", "read", "dropped"):
        assert shape(by_rest[stage]) == shape(by_graphql[stage]), stage
    assert shape(by_rest["read"])["version"] == 2
    assert shape(by_rest["dropped"])["schedule"] is None and shape(by_rest["dropped"])["version"] == 2
    assert [version(v) for v in by_rest["versions"]] == [version(v) for v in by_graphql["versions"]]
    assert [p["id"] for p in by_rest["listed"]] == [by_rest["read"]["id"]]
    assert [p["id"] for p in by_graphql["listed"]] == [by_graphql["read"]["id"]]
    assert by_rest["unscheduled"] == by_graphql["unscheduled"] == []
    # and each refusal has the same code and details
    for name in ("invalid", "taken", "stale", "missing"):
        assert standing_in(refusal(by_rest["refusals"][name]), {"rest_copy": "NAME"}) == standing_in(
            refusal(by_graphql["refusals"][name]), {"graphql_copy": "NAME"}), name
    assert refusal(by_rest["refusals"]["invalid"]) == ("VALIDATION_ERROR", {
        "field": "steps[0].type", "reason": "Unknown step type"})
    assert refusal(by_rest["refusals"]["missing"]) == ("NOT_FOUND", {"resource": "pipeline", "id": "pl_missing"})


async def test_one_pipeline_reads_the_same_on_both_surfaces(client, tmp_path):
    # given a pipeline made through REST and one made through GraphQL
    dataset_id = await make_dataset(client, tmp_path)
    made_by_rest = await rest_ok(client, "POST", "/pipelines", definition("one", dataset_id, tmp_path))
    made_by_graphql = (await gql_data(client, CREATE, {"input": camel_keys(definition("two", dataset_id, tmp_path))}))[
        "createPipeline"]["pipeline"]
    # when each is read back through both surfaces, alone and in the lists
    for made in (made_by_rest, made_by_graphql):
        by_rest = await rest_ok(client, "GET", f"/pipelines/{made['id']}")
        by_graphql = (await gql(client, ONE, {"id": made["id"]}))["data"]["pipeline"]
        # then every field they share is equal, times to the microsecond and next runs included
        assert comparable(by_rest) == comparable(by_graphql) == comparable(made)
    listed_rest = (await rest_ok(client, "GET", "/pipelines"))["data"]
    listed_graphql = (await gql(client, MANY))["data"]["pipelines"]["nodes"]
    assert [comparable(p) for p in listed_rest] == [comparable(p) for p in listed_graphql]
    assert len(listed_rest) == 2


async def test_deleting_and_the_refusals_of_other_callers_agree(client, other_client, tmp_path):
    # given
    dataset_id = await make_dataset(client, tmp_path)
    first = await rest_ok(client, "POST", "/pipelines", definition("first", dataset_id, tmp_path))
    second = await rest_ok(client, "POST", "/pipelines", definition("second", dataset_id, tmp_path))
    reader = await narrow_key(client, "read:pipelines", "read:datasets")
    # when a key without write:pipelines, and an admin of another workspace, try to change them
    narrow = {"rest": await rest(reader, "PUT", f"/pipelines/{first['id']}", CHANGE),
              "graphql": await gql(reader, UPDATE, {"id": first["id"], "input": CHANGE})}
    foreign = {"rest": await rest(other_client, "DELETE", f"/pipelines/{first['id']}"),
               "graphql": await gql(other_client, DELETE, {"id": first["id"]})}
    # then both surfaces refuse alike, and nothing changed
    assert narrow["rest"][0] == 403
    assert refusal(narrow["rest"][1]) == refusal(narrow["graphql"]) == (
        "FORBIDDEN", {"required_scope": "write:pipelines"})
    assert foreign["rest"][0] == 404
    assert refusal(foreign["rest"][1]) == refusal(foreign["graphql"]["data"]["deletePipeline"]) == (
        "NOT_FOUND", {"resource": "pipeline", "id": first["id"]})
    assert (await gql(other_client, ONE, {"id": first["id"]}))["data"]["pipeline"] is None
    assert comparable(await rest_ok(client, "GET", f"/pipelines/{first['id']}")) == comparable(first)
    # when each surface deletes one
    assert (await rest(client, "DELETE", f"/pipelines/{first['id']}"))[0] == 204
    deleted = (await gql(client, DELETE, {"id": second["id"]}))["data"]["deletePipeline"]
    # then both are gone for both surfaces
    assert deleted == {"__typename": "DeletePipelineSuccess", "deletedId": second["id"]}
    for gone in (first["id"], second["id"]):
        assert refusal((await rest(client, "GET", f"/pipelines/{gone}"))[1])[0] == "NOT_FOUND"
        assert (await gql(client, ONE, {"id": gone}))["data"]["pipeline"] is None
