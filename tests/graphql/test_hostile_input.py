"""Hostile GraphQL input: every refusal carries a stable code, nothing is an INTERNAL_ERROR or a 5xx,
and the caller's mistakes are logged at INFO, not ERROR."""

from __future__ import annotations

import base64
import json
import logging

import pytest

LONG_ID = "ds_" + "a" * 60
FIRST = "query($n: Int!) { datasets(first: $n) { totalCount } }"
BY_SOURCE = "query($t: SourceType) { datasets(filter: {sourceType: $t}) { totalCount } }"


async def post(client, body) -> tuple[int, dict]:
    resp = await client.post("/graphql", data=body if isinstance(body, str) else json.dumps(body),
                             headers={"Content-Type": "application/json"})
    return resp.status, await resp.json()


def codes(body: dict) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


@pytest.mark.parametrize(("variables", "reason"), [
    ({"n": "abc"}, "non-integer"), ({}, "not provided"), ({"n": 10**30}, "32-bit"), ({"n": None}, "non-null"),
])
async def test_variables_that_fail_coercion_are_bad_user_input(client, caplog, variables, reason):
    # given
    caplog.set_level(logging.INFO)
    # when
    status, body = await post(client, {"query": FIRST, "variables": variables})
    # then
    assert status == 200
    assert codes(body) == ["BAD_USER_INPUT"]
    assert reason in body["errors"][0]["message"] or "$n" in body["errors"][0]["message"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(r.levelno == logging.INFO and "BAD_USER_INPUT" in r.getMessage() for r in caplog.records)


async def test_unknown_enum_value_in_a_variable_is_bad_user_input(client):
    status, body = await post(client, {"query": BY_SOURCE, "variables": {"t": "NOPE"}})
    assert status == 200 and codes(body) == ["BAD_USER_INPUT"]


async def test_syntax_and_token_limit_errors_carry_a_code(client):
    _, body = await post(client, {"query": "{ datasets { "})
    assert codes(body) == ["GRAPHQL_PARSE_FAILED"]
    _, body = await post(client, {"query": "{ " + "a " * 6000 + "}"})
    assert codes(body) == ["GRAPHQL_PARSE_FAILED"]
    assert "tokens" in body["errors"][0]["message"]


async def test_a_document_nested_past_the_parser_stack_is_a_parse_error(client, caplog):
    caplog.set_level(logging.INFO)
    for document in ("{ " + "a { " * 1500 + "}" * 1501, "{ dataset(id: " + "[" * 2400 + "]" * 2400 + ") { id } }"):
        status, body = await post(client, {"query": document})
        assert status == 200, body
        assert codes(body) == ["GRAPHQL_PARSE_FAILED"]
        assert "nests" in body["errors"][0]["message"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_first_beyond_bounds_is_refused(client):
    # past 32 bits: counted as the largest Int, so refused for its cost before it runs
    status, body = await post(client, {"query": "{ datasets(first: 99999999999) { totalCount } }"})
    assert status == 400 and body["error"]["code"] == "QUERY_TOO_COMPLEX"
    # affordable but past the page size: refused by the field
    _, body = await post(client, {"query": "{ datasets(first: 1000) { totalCount } }"})
    assert codes(body) == ["VALIDATION_ERROR"]
    # a literal that no Int can hold, in a document cheap enough to reach validation
    _, body = await post(client, {"query": "{ jobLogs: datasets(after: \"x\", first: 1) { totalCount } "
                                           "dataset(id: 99999999999999999999) { id } }"})
    assert codes(body) and "INTERNAL_ERROR" not in codes(body)


async def test_cost_too_large_to_serialise_is_refused_with_a_finite_figure(client):
    # given a nested page whose naive cost exceeds 64 bits
    query = "query($n: Int!) { datasets(first: $n) { nodes { schemaHistory(first: $n) { nodes { version } } } } }"
    # when
    resp = await client.post("/graphql", json={"query": query, "variables": {"n": 2**31 - 1}})
    # then
    assert resp.status == 400
    error = (await resp.json())["error"]
    assert error["code"] == "QUERY_TOO_COMPLEX"
    assert error["details"]["cost"] < 2**53


async def test_overlong_ids_are_null_not_internal_errors(client):
    for field in ("dataset", "pipeline", "job"):
        _, body = await post(client, {"query": f'{{ {field}(id: "{LONG_ID}") {{ id }} }}'})
        assert body == {"data": {field: None}}


async def test_overlong_id_in_a_mutation_is_not_found(client):
    query = 'mutation { deleteDataset(id: "' + LONG_ID + '") { __typename ... on Error { code } } }'
    _, body = await post(client, {"query": query})
    assert body["data"]["deleteDataset"] == {"__typename": "NotFoundError", "code": "NOT_FOUND"}


async def test_a_thousand_tags_are_a_validation_error(client):
    tags = ",".join(f'"t{i}"' for i in range(1000))
    _, body = await post(client, {"query": f"{{ datasets(filter: {{tags: [{tags}]}}) {{ totalCount }} }}"})
    assert codes(body) == ["VALIDATION_ERROR"]


async def test_bad_cursors_are_validation_errors(client):
    overlong_id = base64.urlsafe_b64encode(b"2026-01-01T00:00:00+00:00|" + b"x" * 60).decode()
    for cursor in ("9" * 40, "x" * 5000, overlong_id):
        _, body = await post(client, {"query": f'{{ datasets(after: "{cursor}") {{ totalCount }} }}'})
        assert codes(body) == ["VALIDATION_ERROR"], cursor


@pytest.mark.parametrize("raw", ["[1, 2]", '"x"', "null", "[]", "5", '[{"query": "{ datasets { totalCount } }"}, 3]'])
async def test_bodies_that_are_not_requests_are_bad_requests(client, raw):
    status, body = await post(client, raw)
    assert status == 400
    assert body["error"]["code"] == "BAD_REQUEST"


async def test_deeply_nested_json_body_is_refused_before_parsing(client):
    for depth in (100, 3000):
        nested = "[" * depth + "]" * depth
        raw = '{"query": "{ datasets { totalCount } }", "variables": {"x": ' + nested + "}}"
        status, body = await post(client, raw)
        assert status == 400
        assert body["error"]["code"] == "INVALID_JSON"


async def test_get_with_deep_or_non_object_variables_is_refused(client):
    for variables in ("[" * 100 + "]" * 100, "[1]", "{"):
        resp = await client.get("/graphql", params={"query": "{ datasets { totalCount } }", "variables": variables})
        assert resp.status == 400
        assert (await resp.json())["error"]["code"] in {"INVALID_JSON", "BAD_REQUEST"}


async def operation_messages(ws, operation_id: str) -> list[dict]:
    """Every message of one operation up to its end (`complete` or `error`), keep-alives skipped."""
    messages = []
    while True:
        message = await ws.receive_json(timeout=5)
        if message.get("id") != operation_id:
            continue
        messages.append(message)
        if message["type"] in {"complete", "error"}:
            return messages


@pytest.mark.parametrize("protocol", ["graphql-ws", "graphql-transport-ws"])
async def test_queries_and_mutations_run_over_both_websocket_protocols(client, protocol):
    # given
    start, data = ("start", "data") if protocol == "graphql-ws" else ("subscribe", "next")
    create = ("mutation($input: CreateDatasetInput!) { createDataset(input: $input) { __typename "
              "... on CreateDatasetSuccess { dataset { name } } } }")
    dataset = {"name": "over_ws", "source": {"type": "FILE", "path": "/data/x.csv"}}
    async with client.ws_connect("/graphql", protocols=[protocol]) as ws:
        await ws.send_json({"type": "connection_init", "payload": {"authorization": client.headers["Authorization"]}})
        assert (await ws.receive_json(timeout=5))["type"] == "connection_ack"
        # when
        await ws.send_json({"id": "1", "type": start, "payload": {"query": "{ datasets { totalCount } }"}})
        query = await operation_messages(ws, "1")
        await ws.send_json({"id": "2", "type": start, "payload": {"query": create, "variables": {"input": dataset}}})
        mutation = await operation_messages(ws, "2")
        await ws.send_json({"id": "3", "type": start, "payload": {"query": FIRST, "variables": {"n": "abc"}}})
        refused = await operation_messages(ws, "3")
        by_name = "query($n: String) { datasets(filter: {name: $n}) { totalCount } }"
        await ws.send_json({"id": "4", "type": start, "payload": {"query": by_name, "variables": {"n": "a\u0000"}}})
        nul = await operation_messages(ws, "4")
    # then
    assert query[0]["type"] == data and query[0]["payload"]["data"]["datasets"]["totalCount"] == 0
    assert mutation[0]["type"] == data
    assert "createDataset" in mutation[0]["payload"]["data"]
    assert "INTERNAL_ERROR" not in json.dumps(query + mutation + refused)
    assert "BAD_USER_INPUT" in json.dumps(refused)
    assert "VALIDATION_ERROR" in json.dumps(nul) and "INTERNAL_ERROR" not in json.dumps(nul)


async def test_nul_characters_are_refused_in_literals_and_variables(client):
    _, body = await post(client, {"query": '{ datasets(filter: {name: "a\\u0000b"}) { totalCount } }'})
    assert codes(body) == ["BAD_USER_INPUT"]
    status, body = await post(client, {"query": "query($n: String) { datasets(filter: {name: $n}) { totalCount } }",
                                       "variables": {"n": "a\u0000b"}})
    assert status == 400 and body["error"]["code"] == "VALIDATION_ERROR"
