"""Which GraphQL requests share a cached answer: never across scopes or workspaces, never a mutation, never
a query selecting what the read generation does not cover, never an answer with errors."""

from __future__ import annotations

import asyncio

import pytest

from server.graphql_cache import MAX_ANSWER_BYTES, RESOLVED, CachedAnswer, covered_fields
from tests.conftest import Caller, bearer
from tests.examples import dataset_body
from tests.graphql.helpers import gql
from tests.reads.graphql_cache_world import DATASETS, World, graphql_cache, make_world, rest

NAMES = "query Names { datasets(first: 50) { totalCount nodes { name } } }"
CREATE = "mutation Create($input: CreateDatasetInput!) { createDataset(input: $input) { __typename } }"


@pytest.fixture
async def world(client, tmp_path) -> World:
    return await make_world(client, tmp_path)


async def test_two_scopes_never_share_an_answer(client, reader, world):
    # given the admin's answer cached (it may read quality rules)
    admin = await gql(client, DATASETS, {"first": 50})
    await gql(client, DATASETS, {"first": 50})
    cache = graphql_cache(client)
    kept, hits = len(cache.answers), cache.answers.hits
    # when a key with read:datasets only asks the same
    refused = await gql(reader, DATASETS, {"first": 50})
    again = await gql(reader, DATASETS, {"first": 50})
    # then it gets its own answer: the rules refused, every time (an answer with errors is never kept)
    assert admin["data"]["datasets"]["edges"][0]["node"]["qualityRules"] is not None
    assert {error["extensions"]["code"] for error in refused["errors"]} == {"FORBIDDEN"}
    assert again["data"] == refused["data"] and (len(cache.answers), cache.answers.hits) == (kept, hits)
    # (each error names its own request: the second answer was built for the second request)
    assert again["errors"][0]["extensions"]["request_id"] != refused["errors"][0]["extensions"]["request_id"]


async def test_two_scopes_with_the_same_data_keep_two_answers(client, reader, world):
    # given
    cache = graphql_cache(client)
    await gql(client, NAMES)
    hits = cache.answers.hits
    # when
    first = await gql(reader, NAMES)
    second = await gql(reader, NAMES)
    # then the reader's first read was not the admin's answer, its second was its own
    assert first == second and first["data"]["datasets"]["totalCount"] == 2
    assert (len(cache.answers), cache.answers.hits) == (2, hits + 1)


async def test_two_workspaces_never_share_an_answer(client, http, credentials, world):
    # given ws_default's names cached
    mine = await gql(client, NAMES)
    await gql(client, NAMES)
    other = Caller(http, bearer(credentials["other"]))
    # when
    theirs = await gql(other, NAMES)
    await rest(other, "POST", "/datasets", dataset_body(name="elsewhere"), 201)
    theirs_after = await gql(other, NAMES)
    # then
    assert mine["data"]["datasets"]["totalCount"] == 2
    assert theirs["data"]["datasets"] == {"totalCount": 0, "nodes": []}
    assert theirs_after["data"]["datasets"] == {"totalCount": 1, "nodes": [{"name": "elsewhere"}]}
    # and a write in the other workspace left this one's answer cached
    hits = graphql_cache(client).answers.hits
    assert await gql(client, NAMES) == mine and graphql_cache(client).answers.hits == hits + 1


async def test_a_mutation_is_never_cached(client):
    # given
    variables = {"input": {"name": "once", "source": {"type": "DATABASE", "table": "t",
                                                      "connection": "postgresql://u:p@h:5432/d"}}}
    # when the same mutation is sent twice
    first = await gql(client, CREATE, variables)
    second = await gql(client, CREATE, variables)
    # then it ran twice: the second found the name taken
    assert (first["data"]["createDataset"]["__typename"], second["data"]["createDataset"]["__typename"]) == (
        "CreateDatasetSuccess", "ConflictError")
    assert len(graphql_cache(client).answers) == 0


@pytest.mark.parametrize("query", [
    "{ pipelines(first: 5) { nodes { name jobs { totalCount } } } }",  # jobs change all the time
    "{ pipelines(first: 5) { nodes { schedule { nextRuns } } } }",  # computed from the clock
    "{ jobs(first: 5) { totalCount } }",
    "{ datasets(first: 5) { totalCount } jobs(first: 5) { totalCount } }",
    "{ __typename datasets(first: 5) { totalCount } }",
])
async def test_a_query_reading_what_the_generation_does_not_cover_is_not_cached(client, world, query):
    # when
    first = await gql(client, query)
    second = await gql(client, query)
    # then
    assert "errors" not in first and second == first
    assert len(graphql_cache(client).answers) == 0


async def test_a_batch_and_a_get_of_a_mutation_take_the_usual_road(client, world):
    # when
    batch = [await client.post("/graphql", json=[{"query": NAMES}, {"query": NAMES}]) for _ in range(2)]
    mutation = await client.get("/graphql", params={"query": "mutation { deleteDataset(id: \"x\") { __typename } }"})
    # then
    assert [resp.status for resp in batch] == [200, 200] and len(graphql_cache(client).answers) == 0
    assert mutation.status == 405


async def test_a_get_and_a_post_of_the_same_query_share_the_answer(client, world):
    # given
    posted = await gql(client, NAMES)
    hits = graphql_cache(client).answers.hits
    # when
    resp = await client.get("/graphql", params={"query": NAMES})
    # then
    assert (resp.status, await resp.json(), graphql_cache(client).answers.hits) == (200, posted, hits + 1)


async def test_a_cached_answer_is_still_charged_to_the_rate_limit(client, world):
    # given
    await gql(client, NAMES)
    # when
    answers = [await client.post("/graphql", json={"query": NAMES}) for _ in range(2)]
    # then both were hits, each charged its cost
    remaining = [int(resp.headers["X-RateLimit-Remaining"]) for resp in answers]
    assert graphql_cache(client).answers.hits == 2 and remaining[0] > remaining[1]
    assert answers[0].headers["Content-Type"].startswith("application/json")


def test_every_allowed_resolver_field_exists(client):
    # A field renamed in the schema would silently stop being cached: the allowlist names real fields.
    schema = graphql_cache(client).schema
    covered = covered_fields(schema)
    assert all(schema.type_map[kind].fields.get(name) is not None and (kind, name) in covered
               for kind, name in RESOLVED)


async def test_requests_arriving_while_an_answer_is_built_wait_for_it(client):
    # given one request building the answer of a key
    cache = graphql_cache(client)
    key = ("ws_default", "admin", "application/json", "{ datasets { totalCount } }", "", "{}", "7")
    found, builds = await cache.lookup(key)
    # when two more ask for it, and the build ends
    waiting = [asyncio.create_task(cache.lookup(key)) for _ in range(2)]
    await asyncio.sleep(0)  # let both reach their wait
    cache.built(key, CachedAnswer(b'{"data":{}}', "application/json"))
    # then the first built it, and the others got its answer without building
    assert (found, builds) == (None, True)
    assert await asyncio.gather(*waiting) == [(CachedAnswer(b'{"data":{}}', "application/json"), False)] * 2


async def test_a_build_that_kept_nothing_lets_each_waiter_build_its_own(client):
    # given
    cache = graphql_cache(client)
    key = ("ws_default", "admin", "application/json", "{ datasets { totalCount } }", "", "{}", "8")
    await cache.lookup(key)
    waiting = asyncio.create_task(cache.lookup(key))
    await asyncio.sleep(0)
    # when the build ends with an answer that had errors
    cache.built(key, None)
    # then the waiter answers by itself, keeping nothing, and the next request builds again
    assert await waiting == (None, False)
    assert await cache.lookup(key) == (None, True)


async def test_an_answer_too_large_to_keep_is_sent_but_not_kept(client):
    # given two builds, one answer at the limit and one past it
    cache = graphql_cache(client)
    keys = [("ws_default", "admin", "application/json", "{ datasets { totalCount } }", "", "{}", str(n))
            for n in (1, 2)]
    for key, size in zip(keys, (MAX_ANSWER_BYTES, MAX_ANSWER_BYTES + 1), strict=True):
        await cache.lookup(key)
        # when
        cache.built(key, CachedAnswer(b"x" * size, "application/json"))
    # then
    assert [(await cache.lookup(key))[1] for key in keys] == [False, True]
