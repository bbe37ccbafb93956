"""The GraphQL read cache and the nested connections that load through DataLoaders: a dataset's schema
history and a pipeline's versions are kept and made fresh by the writes that change them; a pipeline's
jobs are never kept."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from tests.examples import dataset_body
from tests.graphql.helpers import gql
from tests.reads.graphql_cache_world import World, graphql_cache, make_world, rest

HISTORY = """query History($first: Int!) {
  datasets(first: $first) { nodes { name schemaHistory(first: 1) { totalCount nodes { version } } } }
}"""
VERSIONS = """query Versions($first: Int!) {
  pipelines(first: $first) { nodes { name versions(first: 1) { totalCount nodes { version description } } } }
}"""
JOBS = "query Jobs($first: Int!) { pipelines(first: $first) { nodes { name jobs(first: 5) { totalCount } } } }"


@pytest.fixture
def settings(settings):
    # A job run by a test stays pending: no runner writes between the reads a test compares.
    return dataclasses.replace(settings, run_jobs=False, run_schedules=False)


@pytest.fixture
async def world(client, tmp_path) -> World:
    return await make_world(client, tmp_path)


async def change_schema(client: Any, world: World) -> None:
    fields = [*dataset_body()["schema"]["fields"], {"name": "phone", "type": "string", "nullable": True}]
    await rest(client, "PUT", f"/datasets/{world.dataset}/schema", {"fields": fields})


async def update_pipeline(client: Any, world: World) -> None:
    await rest(client, "PUT", f"/pipelines/{world.pipeline}", {"description": "v2"})


def node(answer: dict[str, Any], name: str) -> dict[str, Any]:
    assert "errors" not in answer, answer
    found = next(iter(answer["data"].values()))["nodes"]
    return next(item for item in found if item["name"] == name)


CASES: dict[str, tuple[str, Callable[..., Any], Callable[[dict[str, Any]], Any]]] = {
    "schema history": (HISTORY, change_schema,
                       lambda a: node(a, "customers")["schemaHistory"] == {"totalCount": 2, "nodes": [{"version": 2}]}),
    "pipeline versions": (VERSIONS, update_pipeline,
                          lambda a: node(a, "copy")["versions"] == {"totalCount": 2,
                                                                    "nodes": [{"version": 2, "description": "v2"}]}),
}


@pytest.mark.parametrize("name", list(CASES))
async def test_a_kept_nested_page_is_fresh_after_the_write_that_changes_it(client, world, name):
    # given the answer read twice (the second time from memory)
    query, write, shows = CASES[name]
    cache = graphql_cache(client)
    before = await gql(client, query, {"first": 10})
    hits = cache.answers.hits
    assert await gql(client, query, {"first": 10}) == before and cache.answers.hits == hits + 1
    # when
    await write(client, world)
    after = await gql(client, query, {"first": 10})
    # then built again, showing the write
    assert (shows(before), shows(after), cache.answers.hits) == (False, True, hits + 1)


async def test_the_jobs_of_a_pipeline_are_read_each_time(client, world):
    # given
    cache = graphql_cache(client)
    before = await gql(client, JOBS, {"first": 10})
    hits = cache.answers.hits
    # when a run is made with no other write
    await rest(client, "POST", f"/pipelines/{world.pipeline}/run", status=202)
    after = await gql(client, JOBS, {"first": 10})
    # then
    assert [node(answer, "copy")["jobs"]["totalCount"] for answer in (before, after)] == [0, 1]
    assert cache.answers.hits == hits
