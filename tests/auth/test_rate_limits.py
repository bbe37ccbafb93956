"""Rate limits per credential (standard, bulk, authentication) and their headers; the default 1,000/min."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from server.app import create_app
from server.config import Settings
from server.edge.ratelimit import Buckets, RateLimits
from server.edge.responses import json_response
from server.edge.routes import Route, add_routes
from tests.conftest import Caller, bearer, test_settings

DATASETS = "/api/v1/datasets"
LIMIT, BULK, AUTH = 6, 2, 3


@pytest.fixture
def settings(database_url, tmp_path) -> Settings:
    return test_settings(database_url, tmp_path, rate_limit_per_minute=LIMIT, rate_limit_bulk_per_minute=BULK,
                         rate_limit_auth_per_minute=AUTH)


async def bulk_import(_request: web.Request) -> web.Response:
    return json_response({"imported": 0})


@pytest.fixture
async def http(aiohttp_client, settings, credentials):
    app = create_app(settings)
    # A route counts as bulk by the use case it runs (resolvers.scopes.BULK_OPERATIONS).
    add_routes(app, "/test", [Route("POST", "/bulk", bulk_import, "write:datasets", "Bulk", "test",
                                    operation="run_pipeline")])
    return await aiohttp_client(app)


def _remaining(resp) -> int:
    assert resp.headers["X-RateLimit-Remaining"] == resp.headers["RateLimit-Remaining"]
    return int(resp.headers["X-RateLimit-Remaining"])


async def test_every_response_carries_the_headers(client, anonymous):
    for resp in (await client.get(DATASETS), await client.get(f"{DATASETS}/ds_missing"),
                 await anonymous.get(DATASETS), await anonymous.get("/healthz")):
        assert resp.headers["X-RateLimit-Limit"] == resp.headers["RateLimit-Limit"]
        assert int(resp.headers["X-RateLimit-Reset"]) == int(resp.headers["RateLimit-Reset"]) > 0


async def test_the_request_past_the_limit_is_refused(client, reader):
    # given the whole minute's budget spent
    seen = [_remaining(await client.get(DATASETS)) for _ in range(LIMIT)]
    # when
    refused = await client.get(DATASETS)
    # then
    assert seen == list(range(LIMIT - 1, -1, -1))
    body = await refused.json()
    assert refused.status == 429
    assert body["error"]["code"] == "RATE_LIMITED"
    assert body["error"]["request_id"]
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.headers["X-RateLimit-Limit"] == str(LIMIT) and _remaining(refused) == 0
    # and another credential keeps its own budget
    assert (await reader.get(DATASETS)).status == 200


async def test_bulk_routes_have_their_own_smaller_budget(client):
    statuses = [(await client.post("/test/bulk")).status for _ in range(BULK + 1)]
    assert statuses == [200] * BULK + [429]
    assert (await client.get(DATASETS)).status == 200


async def test_running_a_pipeline_counts_on_the_bulk_budget(client, tmp_path):
    # given
    dataset = await (await client.post(DATASETS, json={"name": "in", "source": {
        "type": "file", "path": str(tmp_path / "in.csv")}})).json()
    pipeline = await (await client.post("/api/v1/pipelines", json={"name": "p", "steps": [
        {"id": "read", "type": "data_source", "config": {"dataset_id": dataset["id"]}},
        {"id": "write", "type": "data_sink", "config": {"path": str(tmp_path / "out.csv")}}]})).json()
    # when
    runs = [await client.post(f"/api/v1/pipelines/{pipeline['id']}/run") for _ in range(BULK + 1)]
    # then
    assert [r.status for r in runs] == [202] * BULK + [429]
    assert runs[0].headers["X-RateLimit-Limit"] == str(BULK)
    # and GraphQL's runPipeline draws on the same, now empty, bulk budget
    mutation = "mutation($id: ID!) { runPipeline(id: $id) { __typename } }"
    refused = await client.post("/graphql", json={"query": mutation, "variables": {"id": pipeline["id"]}})
    assert refused.status == 429
    assert (await refused.json())["error"]["code"] == "RATE_LIMITED"


async def test_token_endpoint_is_limited_by_client_and_address(client, anonymous):
    # given
    made = await (await client.post("/api/v1/workspaces/ws_default/oauth-clients",
                                    json={"name": "c", "scopes": ["read:datasets"]})).json()
    form = {"grant_type": "client_credentials", "client_id": made["client_id"],
            "client_secret": made["secrets"][0]["secret"]}
    # when
    statuses = [(await anonymous.post("/oauth/token", data=form)).status for _ in range(AUTH + 1)]
    other = await anonymous.post("/oauth/token", data={**form, "client_id": "oc_other"})
    # then
    assert statuses == [200] * AUTH + [429]
    assert other.status == 401  # another client id has its own bucket


async def test_failed_authentications_are_limited_by_address(anonymous, client):
    statuses = [(await anonymous.get(DATASETS, headers=bearer("docc_nope"))).status for _ in range(AUTH + 1)]
    assert statuses == [401] * AUTH + [429]
    assert (await client.get(DATASETS)).status == 200  # valid credentials are not affected


async def test_graphql_cost_counts_toward_the_budget(client):
    # given a query of cost 1 + 20 * (1 + 2) = 61 fields: one request unit (100 fields a unit)... and a big one
    small = await client.post("/graphql", json={"query": "{ datasets { nodes { id name } } }"})
    big = await client.post("/graphql", json={"query": "{ datasets(first: 100) { nodes { id name } } }"})
    # then the big one (1 + 100 * 3 = 301 fields) counts as 4 requests
    assert _remaining(small) == LIMIT - 1
    assert _remaining(big) == LIMIT - 1 - 4


async def test_a_graphql_batch_counts_as_several_requests(client):
    batch = [{"query": "{ datasets { totalCount } }"}] * 3
    resp = await client.post("/graphql", json=batch)
    assert resp.status == 200, await resp.text()
    assert len(await resp.json()) == 3
    assert _remaining(resp) == LIMIT - 3


async def test_default_limit_refuses_the_1001st_request_of_a_minute(monkeypatch):
    # given the default settings' standard bucket, and a clock that stands still while it is filled
    # (otherwise a slow machine leaks a request's worth of capacity during the 1,001 calls)
    buckets = RateLimits(Settings()).buckets["standard"]
    loop = asyncio.get_running_loop()
    frozen = loop.time()
    monkeypatch.setattr(loop, "time", lambda: frozen)
    # when
    decisions = [await buckets.take("key_a") for _ in range(1001)]
    monkeypatch.undo()
    # then
    assert buckets.per_minute == 1000
    assert all(d.retry_after is None for d in decisions[:1000])
    assert decisions[999].remaining == 0
    assert decisions[1000].retry_after is not None and decisions[1000].retry_after >= 1


async def test_least_recently_used_buckets_are_evicted():
    buckets = Buckets(per_minute=10, max_keys=2)
    for key in ("a", "b", "a", "c"):
        await buckets.take(key)
    assert len(buckets) == 2
    assert (await buckets.take("b")).remaining == 9  # b was evicted: a fresh bucket


async def test_caller_fixture_sends_its_credential(http, credentials):
    assert (await Caller(http, bearer(credentials["reader"])).get(DATASETS)).status == 200


async def test_each_websocket_operation_counts_toward_the_budget(client):
    # given a socket (the connection itself costs one request of the budget of LIMIT)
    ws = await client.ws_connect("/graphql", protocols=["graphql-transport-ws"])
    await ws.send_json({"type": "connection_init"})
    assert (await ws.receive_json(timeout=5))["type"] == "connection_ack"
    # when the socket runs more operations than the rest of the budget
    answers = []
    for op in range(LIMIT):
        await ws.send_json({"id": str(op), "type": "subscribe", "payload": {"query": "{ datasets { totalCount } }"}})
        answers.append(await ws.receive_json(timeout=5))
        if answers[-1]["type"] == "next":
            assert (await ws.receive_json(timeout=5))["type"] == "complete"
    # then the first LIMIT - 1 run and the next one is refused with RATE_LIMITED, the socket staying open
    assert [a["type"] for a in answers] == ["next"] * (LIMIT - 1) + ["error"]
    assert answers[-1]["payload"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert not ws.closed
    await ws.close()
