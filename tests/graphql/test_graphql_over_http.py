"""GraphQL over HTTP as its specification describes: content negotiation on Accept, the status and shape
of requests that never ran in `application/graphql-response+json`, and the HTTP-level refusals.

`application/json` (and no Accept, and `*/*`) keeps the behaviour older clients rely on: status 200 and
`data: null` when the request fails to parse, validate or coerce its variables.
"""

from __future__ import annotations

import json
import logging
import math
import time
from typing import Any

import pytest
from graphql.error import GraphQLError

from server.graphql_media import GRAPHQL_RESPONSE, JSON, negotiate, request_error_status
from tests.graphql.helpers import dataset_input

GQL = "application/graphql-response+json"
COUNT = "{ datasets { totalCount } }"
FIRST = "query($n: Int!) { datasets(first: $n) { totalCount } }"
TWO_OPERATIONS = "query A { datasets { totalCount } } query B { __typename }"
CREATE = "mutation($input: CreateDatasetInput!) { createDataset(input: $input) { __typename } }"

# (request body, the error code it gets): each one fails before execution.
NEVER_RAN = [
    pytest.param({"query": "{ datasets { totalCount "}, "GRAPHQL_PARSE_FAILED", id="parse"),
    pytest.param({"query": "{ noSuchField }"}, "GRAPHQL_VALIDATION_FAILED", id="validation"),
    pytest.param({"query": FIRST, "variables": {"n": "abc"}}, "BAD_USER_INPUT", id="variable-coercion"),
    pytest.param({"query": FIRST}, "BAD_USER_INPUT", id="variable-missing"),
    pytest.param({"query": TWO_OPERATIONS}, "BAD_USER_INPUT", id="several-operations-none-named"),
]


async def post(client: Any, body: Any, accept: str | None, content_type: str = "application/json"
               ) -> tuple[int, str, dict[str, Any]]:
    headers = {"Content-Type": content_type}
    if accept is not None:
        headers["Accept"] = accept
    resp = await client.post("/graphql", data=json.dumps(body), headers=headers)
    return resp.status, resp.headers["Content-Type"], await resp.json(content_type=None)


def codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


async def test_a_client_that_accepts_graphql_response_json_is_answered_in_it(client):
    # when
    status, content_type, body = await post(client, {"query": COUNT}, GQL)
    # then
    assert status == 200
    assert content_type == f"{GQL}; charset=utf-8"
    assert body == {"data": {"datasets": {"totalCount": 0}}}


@pytest.mark.parametrize("accept", [None, "", "*/*", JSON, "application/*", "text/html, */*;q=0.8",
                                    f"{JSON}, {GQL};q=0.5", "not a media type"])
async def test_older_clients_and_wildcards_get_application_json(client, accept):
    # when
    status, content_type, body = await post(client, {"query": COUNT}, accept)
    # then
    assert status == 200
    assert content_type == f"{JSON}; charset=utf-8"
    assert body == {"data": {"datasets": {"totalCount": 0}}}


@pytest.mark.parametrize(("body", "code"), NEVER_RAN)
async def test_a_request_that_never_ran_is_400_without_data_in_graphql_response_json(client, body, code):
    # when
    status, content_type, answer = await post(client, body, f"{GQL}, {JSON}")
    # then
    assert status == 400
    assert content_type.startswith(GQL)
    assert "data" not in answer
    assert codes(answer) == [code]


@pytest.mark.parametrize(("body", "code"), NEVER_RAN)
async def test_a_request_that_never_ran_keeps_200_and_null_data_in_application_json(client, body, code):
    # when
    status, content_type, answer = await post(client, body, JSON)
    # then
    assert status == 200
    assert content_type.startswith(JSON)
    assert answer["data"] is None
    assert codes(answer) == [code]


async def test_a_get_query_that_fails_validation_is_400_without_data(client):
    # when
    resp = await client.get("/graphql", params={"query": "{ noSuchField }"}, headers={"Accept": GQL})
    body = await resp.json(content_type=None)
    # then
    assert resp.status == 400
    assert resp.headers["Content-Type"].startswith(GQL)
    assert "data" not in body and codes(body) == ["GRAPHQL_VALIDATION_FAILED"]


async def test_a_field_error_during_execution_stays_200_with_its_data(reader):
    # given: the reader key may read datasets but not pipelines
    query = '{ datasets { totalCount } pipeline(id: "pl_none") { id } }'
    # when
    status, content_type, body = await post(reader, {"query": query}, GQL)
    # then: the request ran, so its partial data is the answer
    assert status == 200
    assert content_type.startswith(GQL)
    assert body["data"] == {"datasets": {"totalCount": 0}, "pipeline": None}
    assert codes(body) == ["FORBIDDEN"] and body["errors"][0]["path"] == ["pipeline"]


async def test_a_batch_answers_200_and_drops_data_only_from_its_item_that_never_ran(client):
    # when
    status, content_type, body = await post(client, [{"query": COUNT}, {"query": "{ noSuchField }"}], GQL)
    # then
    assert status == 200
    assert content_type.startswith(GQL)
    assert body[0] == {"data": {"datasets": {"totalCount": 0}}}
    assert "data" not in body[1] and codes(body[1]) == ["GRAPHQL_VALIDATION_FAILED"]


@pytest.mark.parametrize("accept", ["text/html", "image/png, text/*", f"{GQL};q=0, {JSON};q=0"])
async def test_a_request_that_accepts_neither_type_is_refused_with_406(client, accept):
    # when
    status, content_type, body = await post(client, {"query": COUNT}, accept)
    # then
    assert status == 406
    assert content_type.startswith(JSON)
    assert body["error"]["code"] == "NOT_ACCEPTABLE"
    assert body["error"]["details"] == {"available": [GQL, JSON]}


@pytest.mark.parametrize("accept", [GQL, JSON])
async def test_a_mutation_over_get_is_refused_with_405_and_does_not_run(client, accept):
    # when
    variables = json.dumps({"input": dataset_input()})
    resp = await client.get("/graphql", params={"query": CREATE, "variables": variables}, headers={"Accept": accept})
    body = await resp.json(content_type=None)
    # then
    assert resp.status == 405
    assert resp.headers["Allow"] == "POST"
    assert body["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert body["error"]["details"] == {"allowed_methods": ["POST"]}
    _, _, listed = await post(client, {"query": COUNT}, JSON)
    assert listed["data"]["datasets"]["totalCount"] == 0
    # and the same mutation is a valid one: over POST it runs
    _, _, created = await post(client, {"query": CREATE, "variables": {"input": dataset_input()}}, accept)
    assert created["data"]["createDataset"]["__typename"] == "CreateDatasetSuccess"


async def test_a_method_other_than_get_and_post_is_refused_with_405(client):
    # when
    resp = await client.put("/graphql", data=json.dumps({"query": COUNT}), headers={"Content-Type": JSON})
    body = await resp.json(content_type=None)
    # then
    assert resp.status == 405
    assert resp.headers["Allow"] == "GET, POST"
    assert body["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert body["error"]["details"] == {"allowed_methods": ["GET", "POST"]}


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", GQL])
async def test_a_post_body_that_is_not_json_is_refused_with_415(client, content_type):
    # when
    status, answered_as, body = await post(client, {"query": COUNT}, GQL, content_type=content_type)
    # then
    assert status == 415
    assert answered_as.startswith(JSON)
    assert body["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


@pytest.mark.parametrize(("accept", "chosen"), [
    (None, JSON), ("*/*", JSON), (GQL, GRAPHQL_RESPONSE), (f"{JSON}, {GQL}", GRAPHQL_RESPONSE),
    (f"{JSON};q=0.9, {GQL};q=0.8", JSON), (f"{GQL};q=0.2, */*", JSON), (f"{GQL}, */*;q=0.1", GRAPHQL_RESPONSE),
    ("APPLICATION/GRAPHQL-RESPONSE+JSON; charset=utf-8", GRAPHQL_RESPONSE), (f"{GQL};q=abc, {JSON}", JSON),
    (f"{JSON};q=0, */*", GRAPHQL_RESPONSE), ("text/html", None), (f"{GQL};q=0", None), (",;,", JSON),
])
def test_negotiation_weighs_and_prefers_as_the_specification_says(accept, chosen):
    assert negotiate(accept) == chosen


def test_a_request_error_masked_as_internal_is_a_500():
    # given: an unexpected failure before execution, masked by the error-shaping extension
    masked = GraphQLError("Internal server error", extensions={"code": "INTERNAL_ERROR"})
    # then
    assert request_error_status(None, [masked]) == 500
    assert request_error_status(None, [GraphQLError("x", extensions={"code": "BAD_USER_INPUT"})]) == 400
    assert request_error_status({"a": 1}, [masked]) is None


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_subscription_over_http_is_refused_with_400_not_an_internal_error(client, caplog, method):
    # given
    query = 'subscription { jobLogs(jobId: "job_none") { __typename } }'
    # when
    if method == "GET":
        resp = await client.get("/graphql", params={"query": query}, headers={"Accept": GQL})
    else:
        resp = await client.post("/graphql", data=json.dumps({"query": query}),
                                 headers={"Accept": GQL, "Content-Type": JSON})
    body = await resp.json(content_type=None)
    # then
    assert resp.status == 400
    assert body["error"]["code"] == "BAD_REQUEST"
    assert "websocket" in body["error"]["message"]
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


async def test_a_document_of_several_operations_runs_the_one_named(client):
    # when
    status, _, body = await post(client, {"query": TWO_OPERATIONS, "operationName": "B"}, GQL)
    # then
    assert status == 200
    assert body == {"data": {"__typename": "Query"}}


REFUSALS = 5


@pytest.mark.parametrize(("body", "accept", "status", "code"), [
    pytest.param(b'{"query": ', None, 400, "INVALID_JSON", id="not-json"),
    pytest.param(b'{"query": "{ datasets(first: 2147483647) { totalCount } }"}', None, 400, "QUERY_TOO_COMPLEX",
                 id="too-costly"),
    pytest.param(json.dumps({"query": COUNT}).encode(), "text/html", 406, "NOT_ACCEPTABLE", id="not-acceptable"),
])
async def test_a_refusal_before_the_cost_is_known_counts_once_and_carries_the_rate_limit_headers(
        client, body, accept, status, code):
    # given
    headers = {"Content-Type": "application/json"} | ({"Accept": accept} if accept else {})
    began = time.monotonic()
    before = await client.post("/graphql", data=json.dumps({"query": "{ __typename }"}),
                               headers={"Content-Type": "application/json"})
    # when: refused several times in a row
    for _ in range(REFUSALS):
        resp = await client.post("/graphql", data=body, headers=headers)
        # then
        assert resp.status == status
        assert (await resp.json(content_type=None))["error"]["code"] == code
    assert resp.headers["X-RateLimit-Limit"] == before.headers["X-RateLimit-Limit"]
    # Each refusal took at least one request from the budget. The bucket refills meanwhile (one request every
    # 60 ms at the default 1,000 a minute) and the header floors a fractional level, so what came back since
    # is bounded by the time that passed, rounded up.
    refilled = math.ceil((time.monotonic() - began) * int(before.headers["X-RateLimit-Limit"]) / 60)
    assert int(resp.headers["X-RateLimit-Remaining"]) <= \
        int(before.headers["X-RateLimit-Remaining"]) - REFUSALS + refilled
    assert "RateLimit-Reset" in resp.headers
