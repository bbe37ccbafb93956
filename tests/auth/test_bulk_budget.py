"""The bulk budget: every field that starts work is charged once per occurrence before anything runs.

With a budget of 5 a minute, a request that asks for more (aliases, fragments, a batch) is refused
whole with 429 and starts no job; the jobs are counted as admin afterwards.
"""

from __future__ import annotations

from typing import Any

import pytest

from resolvers.scopes import BULK_OPERATIONS
from schema import build_schema
from server.app import REST_ROUTES
from server.auth.graphql_cost import bulk_count, python_name
from tests.auth.world import World, build_world

BUDGET = 5


@pytest.fixture
async def world(start_app, settings, tmp_path) -> World:
    return await build_world(start_app, settings, tmp_path, rate_limit_bulk_per_minute=BUDGET)


def _runs(count: int, prefix: str = "r") -> str:
    return " ".join(f"{prefix}{i}: runPipeline(pipelineId: $id) {{ __typename }}" for i in range(count))


async def _post(world: World, body: Any):
    return await world.keys["pipeline_writer"].post("/graphql", json=body)


async def _assert_refused_whole(resp, world: World, requested: int) -> None:
    body = await resp.json()
    assert resp.status == 429
    assert body["error"]["code"] == "RATE_LIMITED"
    assert body["error"]["details"]["requested"] == requested
    assert body["error"]["details"]["limit"] == BUDGET
    assert int(resp.headers["Retry-After"]) >= 1
    assert len(await world.jobs()) == 1  # only the world's own job


async def test_twenty_aliased_runs_are_refused_whole(world: World):
    query = f"mutation ($id: ID!) {{ {_runs(20)} }}"
    resp = await _post(world, {"query": query, "variables": {"id": world.pipeline_id}})
    await _assert_refused_whole(resp, world, 20)


async def test_a_batch_of_ten_runs_is_refused_whole(world: World):
    one = {"query": "mutation ($id: ID!) { runPipeline(pipelineId: $id) { __typename } }",
           "variables": {"id": world.pipeline_id}}
    resp = await _post(world, [one] * 10)
    await _assert_refused_whole(resp, world, 10)


async def test_runs_hidden_in_named_and_inline_fragments_are_counted(world: World):
    query = f"""mutation ($id: ID!) {{ ...Three ... on Mutation {{ {_runs(3, "i")} }} }}
                fragment Three on Mutation {{ {_runs(3, "n")} }}"""
    resp = await _post(world, {"query": query, "variables": {"id": world.pipeline_id}})
    await _assert_refused_whole(resp, world, 6)


async def test_within_the_budget_every_run_happens_then_the_budget_is_spent(world: World):
    # when five runs come in one operation
    query = f"mutation ($id: ID!) {{ {_runs(BUDGET)} }}"
    ok = await _post(world, {"query": query, "variables": {"id": world.pipeline_id}})
    # then five jobs are made
    assert ok.status == 200 and "errors" not in await ok.json()
    assert len(await world.jobs()) == 1 + BUDGET
    # and the REST route draws on the same, now empty, budget
    refused = await world.keys["pipeline_writer"].post(f"/api/v1/pipelines/{world.pipeline_id}/run")
    assert refused.status == 429
    assert len(await world.jobs()) == 1 + BUDGET


async def test_only_the_operation_that_runs_is_charged(world: World):
    # given a document with a big operation that is not selected
    query = f"""mutation Big($id: ID!) {{ {_runs(20)} }}
                mutation Small($id: ID!) {{ runPipeline(pipelineId: $id) {{ __typename }} }}"""
    # when
    resp = await _post(world, {"query": query, "variables": {"id": world.pipeline_id}, "operationName": "Small"})
    # then
    assert resp.status == 200, await resp.text()
    assert len(await world.jobs()) == 2


def test_bulk_fields_and_routes_come_from_one_list_of_use_cases():
    schema = build_schema()._schema
    mutation = schema.mutation_type
    bulk_fields = {name for name in mutation.fields if python_name(schema, "Mutation", name) in BULK_OPERATIONS}
    bulk_routes = {(route.method, route.path) for route in REST_ROUTES if route.bulk}
    # every use case of the list is served by a GraphQL mutation field, and the REST run route follows it
    assert bulk_fields == {"runPipeline", "retryJob", "runQualityRule", "profileDataset"}
    assert {python_name(schema, "Mutation", name) for name in bulk_fields} == BULK_OPERATIONS
    assert bulk_routes == {("POST", "/pipelines/{id}/run"), ("POST", "/quality/rules/{id}/run"),
                           ("POST", "/datasets/{id}/profile")}


def test_counting_is_linear_in_the_document_even_for_nested_fragment_spreads():
    # given fragments that each spread the previous one eight times, fourteen levels deep (8**14 paths)
    fragments = ["fragment F0 on Mutation { runPipeline(pipelineId: \"p\") { __typename } }"]
    fragments += [f"fragment F{i} on Mutation {{ {' '.join(f'...F{i - 1}' for _ in range(8))} }}"
                  for i in range(1, 15)]
    query = "mutation { ...F14 }\n" + "\n".join(fragments)
    # when / then: counted at once, every occurrence included
    assert bulk_count(build_schema()._schema, {"query": query}, 5_000) == 8 ** 14


async def test_over_a_websocket_the_same_charges_and_checks_apply(world: World):
    # given a socket of the write-and-run key
    ws = await world.keys["pipeline_writer"].ws_connect("/graphql", protocols=["graphql-transport-ws"])
    await ws.send_json({"type": "connection_init", "payload": {}})
    assert (await ws.receive_json(timeout=5))["type"] == "connection_ack"
    too_many = "mutation ($id: ID!) { " + _runs(BUDGET + 1) + " }"
    needs_read = "mutation ($id: ID!) { runPipeline(pipelineId: $id) { ... on JobSuccess { job { id } } } }"
    replies = []
    # when
    for op_id, query in (("1", too_many), ("2", needs_read)):
        await ws.send_json({"id": op_id, "type": "subscribe",
                            "payload": {"query": query, "variables": {"id": world.pipeline_id}}})
        replies.append(await ws.receive_json(timeout=5))
    await ws.close()
    # then the over-budget operation is refused before it starts, the other one runs no field
    assert replies[0]["type"] == "error"
    assert replies[0]["payload"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert replies[1]["type"] == "next" and replies[1]["payload"]["data"] is None
    assert replies[1]["payload"]["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # and neither started a job
    assert len(await world.jobs()) == 1
