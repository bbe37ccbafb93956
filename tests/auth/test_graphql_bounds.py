"""GraphQL is bounded before it runs: depth, aliases (also in fragments), tokens, page size, cost; and
introspection and field suggestions can be turned off."""

from __future__ import annotations

import pytest

from server.config import Settings
from tests.conftest import test_settings


@pytest.fixture
def settings(database_url, tmp_path) -> Settings:
    return test_settings(database_url, tmp_path, graphql_max_depth=4, graphql_max_aliases=3,
                   graphql_max_tokens=120, graphql_max_cost=250, graphql_introspection=False,
                   graphql_suggestions=False)


async def _errors(client, query: str) -> list[dict]:
    resp = await client.post("/graphql", json={"query": query})
    body = await resp.json()
    assert "errors" in body, body
    return body["errors"]


async def test_depth_is_bounded(client):
    errors = await _errors(client, "{ datasets { edges { node { schema { fields { name } } } } } }")
    assert "exceeds maximum operation depth" in errors[0]["message"]


async def test_aliases_are_bounded_also_through_fragments(client):
    query = """{ ...F }
    fragment F on Query { a: datasets { totalCount } b: datasets { totalCount } c: datasets { totalCount }
                          d: datasets { totalCount } }"""
    errors = await _errors(client, query)
    assert "aliases" in errors[0]["message"]


async def test_tokens_are_bounded(client):
    query = "{ " + " ".join("datasets { totalCount }" for _ in range(40)) + " }"
    errors = await _errors(client, query)
    assert "token" in errors[0]["message"].lower()


async def test_page_size_is_at_most_100(client):
    errors = await _errors(client, "{ datasets(first: 101) { totalCount } }")
    assert errors[0]["extensions"]["code"] == "VALIDATION_ERROR"


async def test_too_costly_query_is_refused_before_it_runs(client):
    resp = await client.post("/graphql", json={"query": "{ datasets(first: 100) { nodes { id name } } }"})
    body = await resp.json()
    assert resp.status == 400
    assert body["error"]["code"] == "QUERY_TOO_COMPLEX"
    assert body["error"]["details"] == {"cost": 301, "max_cost": 250}


async def test_cost_follows_fragments_and_variables(client):
    query = """query($n: Int!) { datasets(first: $n) { ...N } } fragment N on DatasetConnection { nodes { id } }"""
    resp = await client.post("/graphql", json={"query": query, "variables": {"n": 200}})
    assert (await resp.json())["error"]["details"]["cost"] == 1 + 200 * 2


async def test_introspection_can_be_turned_off(client):
    errors = await _errors(client, "{ __schema { types { name } } }")
    assert "introspection" in errors[0]["message"].lower()


async def test_field_suggestions_can_be_turned_off(client):
    errors = await _errors(client, "{ dataset(id: \"x\") { nam } }")
    assert errors[0]["message"] == "Cannot query field 'nam' on type 'Dataset'."
    assert "Did you mean" not in str(errors)

