"""Connections nested in a page (a pipeline's versions and jobs) over GraphQL: paged for every parent at
once, with the arguments, cursors, errors and scopes of each field kept apart, and a later mutation of the
same request never shown what an earlier one loaded."""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from typing import Any

import pytest

from server.engine.journal import Journal
from server.engine.service import EVENT_BUS
from tests.conftest import Caller, bearer
from tests.examples import dataset_body
from tests.graphql.helpers import gql
from tests.reads.graphql_cache_world import make_world, pipeline_body, rest

PAGE = "totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { version } }"
PIPELINES = f"""query Page($after: String) {{
  pipelines(first: 10) {{ nodes {{ id name
    head: versions(first: 2) {{ {PAGE} }}
    tail: versions(first: 10, after: $after) {{ {PAGE} }}
    jobs(first: 2) {{ totalCount pageInfo {{ hasNextPage }} nodes {{ id pipelineId }} }} }} }}
}}"""
ONE = f"""query One($id: ID!, $after: String) {{
  pipeline(id: $id) {{ versions(first: 10, after: $after) {{ {PAGE} }} }}
}}"""
COUNTS = "{ pipelines(first: 10) { nodes { name versions { totalCount } jobs { totalCount } } } }"
SAVED = "... on PipelineSuccess { pipeline { versions { totalCount } } }"
UPDATE = f"""mutation Twice($id: ID!) {{
  a: updatePipeline(id: $id, input: {{description: "a"}}) {{ {SAVED} }}
  b: updatePipeline(id: $id, input: {{description: "b"}}) {{ {SAVED} }}
}}"""


@pytest.fixture
def settings(settings):
    # Runs stay pending: the jobs a test makes are only rows to list.
    return dataclasses.replace(settings, run_jobs=False, run_schedules=False)


@dataclass
class Pipelines:
    copy: str
    second: str
    third: str


@pytest.fixture
async def pipelines(client, tmp_path) -> Pipelines:
    """`copy` with 4 versions and 3 jobs, `second` with 1 version and none, `third` with 2 versions and 1 job."""
    world = await make_world(client, tmp_path)
    second = (await rest(client, "POST", "/pipelines", pipeline_body("second", world.spare, tmp_path), 201))["id"]
    third = (await rest(client, "POST", "/pipelines", pipeline_body("third", world.dataset, tmp_path), 201))["id"]
    for pipeline_id, versions, runs in ((world.pipeline, 3, 3), (third, 1, 1)):
        for n in range(versions):
            await rest(client, "PUT", f"/pipelines/{pipeline_id}", {"description": f"v{n + 2}"})
        for _ in range(runs):
            await rest(client, "POST", f"/pipelines/{pipeline_id}/run", status=202)
    return Pipelines(world.pipeline, second, third)


def by_name(answer: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in answer, answer
    return {node["name"]: node for node in answer["data"]["pipelines"]["nodes"]}


def versions(page: dict[str, Any]) -> list[int]:
    return [edge["node"]["version"] for edge in page["edges"]]


async def test_each_parent_gets_its_own_pages_and_each_alias_its_own_arguments(client, pipelines):
    # given the cursor that ends copy's first page of versions
    first = by_name(await gql(client, PIPELINES, {"after": None}))
    cursor = first["copy"]["head"]["pageInfo"]["endCursor"]
    # when
    found = by_name(await gql(client, PIPELINES, {"after": cursor}))
    # then each pipeline's pages are its own
    assert {name: (versions(node["head"]), node["head"]["totalCount"], node["head"]["pageInfo"]["hasNextPage"])
            for name, node in found.items()} == {"copy": ([4, 3], 4, True), "second": ([1], 1, False),
                                                 "third": ([2, 1], 2, False)}
    assert versions(found["copy"]["tail"]) == [2, 1] and found["copy"]["tail"]["pageInfo"]["hasPreviousPage"]
    assert {name: (node["jobs"]["totalCount"], node["jobs"]["pageInfo"]["hasNextPage"], len(node["jobs"]["nodes"]))
            for name, node in found.items()} == {"copy": (3, True, 2), "second": (0, False, 0), "third": (1, False, 1)}
    assert all(job["pipelineId"] == node["id"] for node in found.values() for job in node["jobs"]["nodes"])
    # and every pipeline's page after that cursor is the one it gets alone
    for name, pipeline_id in dataclasses.asdict(pipelines).items():
        alone = await gql(client, ONE, {"id": pipeline_id, "after": cursor})
        assert found[name]["tail"] == alone["data"]["pipeline"]["versions"]


async def test_a_bad_cursor_is_a_validation_error_of_the_nested_field(client, pipelines):
    # when
    answer = await gql(client, PIPELINES, {"after": "bm90IGEgY3Vyc29y"})
    # then
    codes = {(error["extensions"]["code"], error["path"][-1]) for error in answer["errors"]}
    assert codes == {("VALIDATION_ERROR", "tail")}


async def test_the_jobs_of_a_pipeline_need_the_jobs_read_scope(client, pipelines):
    # given keys that may read pipelines, one of them jobs too
    async def key(*scopes: str) -> Caller:
        made = await rest(client, "POST", "/workspaces/ws_default/keys", {"name": "-".join(scopes),
                                                                          "scopes": list(scopes)}, 201)
        return Caller(client.http, bearer(made["key"]))

    without, holding = await key("read:pipelines"), await key("read:pipelines", "read:jobs")
    # when
    refused = await gql(without, COUNTS)
    allowed = await gql(holding, COUNTS)
    # then
    assert {(error["extensions"]["code"], error["path"][-1]) for error in refused["errors"]} == {("FORBIDDEN", "jobs")}
    assert {name: (node["versions"]["totalCount"], node["jobs"]["totalCount"])
            for name, node in by_name(allowed).items()} == {"copy": (4, 3), "second": (1, 0), "third": (2, 1)}


async def test_another_workspace_sees_none_of_the_pages(other_client, pipelines):
    # when
    answer = await gql(other_client, COUNTS)
    alone = await gql(other_client, ONE, {"id": pipelines.copy, "after": None})
    # then
    assert by_name(answer) == {} and alone["data"]["pipeline"] is None


async def test_each_mutation_of_a_request_reads_what_the_ones_before_it_wrote(client, pipelines):
    # when one request saves the pipeline twice, reading its versions after each save
    answer = await gql(client, UPDATE, {"id": pipelines.second})
    # then
    assert "errors" not in answer, answer
    totals = {name: result["pipeline"]["versions"]["totalCount"] for name, result in answer["data"].items()}
    assert totals == {"a": 2, "b": 3}


STATUS = """subscription Status($id: ID!) { jobStatus(jobId: $id) { status pipeline {
  versions { totalCount } jobs { totalCount nodes { pipeline { versions { totalCount } } } }
  datasets { schemaHistory { totalCount } } } } }"""


async def next_event(ws: Any) -> dict[str, Any]:
    while True:
        message = await asyncio.wait_for(ws.receive_json(), 10)
        if message["type"] == "next":
            return message["payload"]["data"]["jobStatus"]["pipeline"]
        assert message["type"] in {"ka", "ping", "pong"}, message


def totals(pipeline: dict[str, Any]) -> tuple[int, int, int, list[int]]:
    nested = {job["pipeline"]["versions"]["totalCount"] for job in pipeline["jobs"]["nodes"]}
    assert len(nested) == 1
    return (pipeline["versions"]["totalCount"], pipeline["jobs"]["totalCount"], nested.pop(),
            [dataset["schemaHistory"]["totalCount"] for dataset in pipeline["datasets"]])


async def test_each_event_of_a_subscription_reads_the_pages_anew(client, pipelines):
    # given a subscription to one of copy's jobs, its first event read
    job_id = (await rest(client, "GET", f"/jobs?pipeline_id={pipelines.copy}"))["data"][0]["id"]
    dataset_id = (await rest(client, "GET", f"/pipelines/{pipelines.copy}"))["steps"][0]["config"]["dataset_id"]
    async with client.ws_connect("/graphql", protocols=["graphql-transport-ws"]) as ws:
        await ws.send_json({"type": "connection_init", "payload": {"authorization": client.headers["Authorization"]}})
        assert (await asyncio.wait_for(ws.receive_json(), 10))["type"] == "connection_ack"
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": STATUS, "variables": {"id": job_id}}})
        first = totals(await next_event(ws))
        # when the pipeline gets a version and a job, its dataset a schema version, and the job changes
        await rest(client, "PUT", f"/pipelines/{pipelines.copy}", {"description": "v5"})
        await rest(client, "POST", f"/pipelines/{pipelines.copy}/run", status=202)
        fields = [*dataset_body()["schema"]["fields"], {"name": "phone", "type": "string", "nullable": True}]
        await rest(client, "PUT", f"/datasets/{dataset_id}/schema", {"fields": fields})
        await Journal(job_id, bus=client.app[EVENT_BUS]).update_job(status="running")
        second = totals(await next_event(ws))
    # then the next event shows every change
    assert (first, second) == ((4, 3, 4, [1]), (5, 4, 5, [2]))
