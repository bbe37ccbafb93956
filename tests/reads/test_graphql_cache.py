"""GraphQL reads answered from memory: a repeated query is a cache hit, and every write that changes its
answer makes the next read fresh (through the API, or straight to the database as a worker writes)."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from server.models.datasets import Dataset
from tests.examples import dataset_body
from tests.graphql.helpers import gql
from tests.reads.graphql_cache_world import (
    DATASET,
    DATASETS,
    PIPELINES,
    RESULTS,
    RUN_RULE,
    World,
    graphql_cache,
    make_world,
    pipeline_body,
    rest,
)


@pytest.fixture
def settings(settings):
    # No background work: a quality run started by a test stays as stored until the test writes again (a
    # runner claiming it would bump the generation too, rightly, between the reads a test compares).
    return dataclasses.replace(settings, run_jobs=False, run_schedules=False)


@pytest.fixture
async def world(client, tmp_path) -> World:
    return await make_world(client, tmp_path)


async def read_twice(client: Any, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """Read, read again (which must be a hit with the same answer), and return the answer."""
    cache = graphql_cache(client)
    first = await gql(client, query, variables)
    hits = cache.answers.hits
    again = await gql(client, query, variables)
    assert "errors" not in first, first
    assert (again, cache.answers.hits) == (first, hits + 1)
    return first


async def test_a_repeated_query_is_answered_from_memory_without_reading_the_tables(client, world, monkeypatch):
    # given the page read once
    variables = {"first": 50}
    first = await gql(client, DATASETS, variables)
    reads: list[str] = []
    original = Dataset.filter

    def counted(*args: Any, **kwargs: Any) -> Any:
        reads.append("datasets")
        return original(*args, **kwargs)

    monkeypatch.setattr(Dataset, "filter", counted)
    # when
    again = await gql(client, DATASETS, variables)
    # then
    assert again == first and first["data"]["datasets"]["totalCount"] == 2
    assert reads == []


Write = Callable[[Any, World], Awaitable[Any]]


async def create_dataset(client: Any, world: World) -> Any:
    return await rest(client, "POST", "/datasets", dataset_body(name="fresh"), 201)


async def update_dataset(client: Any, world: World) -> Any:
    return await rest(client, "PUT", f"/datasets/{world.dataset}", {"description": "changed"})


async def delete_dataset(client: Any, world: World) -> Any:
    return await rest(client, "DELETE", f"/datasets/{world.spare}", status=204)


async def change_tags(client: Any, world: World) -> Any:
    return await rest(client, "PUT", f"/datasets/{world.dataset}", {"tags": ["gold"]})


async def change_schema(client: Any, world: World) -> Any:
    fields = [*dataset_body()["schema"]["fields"], {"name": "phone", "type": "string", "nullable": True}]
    return await rest(client, "PUT", f"/datasets/{world.dataset}/schema", {"fields": fields})


async def store_score(client: Any, world: World) -> Any:
    # As a worker stores a quality score: one conditional update, no API request.
    return await Dataset.filter(id=world.dataset).update(quality_score=0.5)


async def change_rule(client: Any, world: World) -> Any:
    return await rest(client, "PUT", f"/quality/rules/{world.rule}", {"severity": "error"})


async def store_result(client: Any, world: World) -> Any:
    return await gql(client, RUN_RULE, {"id": world.rule})


async def create_pipeline(client: Any, world: World) -> Any:
    return await rest(client, "POST", "/pipelines", pipeline_body("second", world.spare, world.folder), 201)


async def update_pipeline(client: Any, world: World) -> Any:
    return await rest(client, "PUT", f"/pipelines/{world.pipeline}", {"description": "v2"})


async def delete_pipeline(client: Any, world: World) -> Any:
    return await rest(client, "DELETE", f"/pipelines/{world.pipeline}", status=204)


async def change_schedule(client: Any, world: World) -> Any:
    return await rest(client, "POST", f"/pipelines/{world.pipeline}/schedule", {"cron": "0 3 * * *"})


def page(answer: dict[str, Any]) -> list[dict[str, Any]]:
    return [edge["node"] for edge in answer["data"]["datasets"]["edges"]]


def customers(answer: dict[str, Any]) -> dict[str, Any]:
    return next(node for node in page(answer) if node["name"] == "customers")


# name -> (query, variables from the world, the write, what the fresh answer shows)
CASES: dict[str, tuple[str, Callable[[World], dict[str, Any]], Write, Callable[[dict[str, Any]], Any]]] = {
    "dataset create": (DATASETS, lambda w: {"first": 50}, create_dataset,
                       lambda a: a["data"]["datasets"]["totalCount"] == 3),
    "dataset update": (DATASETS, lambda w: {"first": 50}, update_dataset,
                       lambda a: customers(a)["description"] == "changed"),
    "dataset delete": (DATASETS, lambda w: {"first": 50}, delete_dataset,
                       lambda a: [node["name"] for node in page(a)] == ["customers"]),
    "tag change": (DATASETS, lambda w: {"first": 50}, change_tags, lambda a: customers(a)["tags"] == ["gold"]),
    "schema change": (DATASETS, lambda w: {"first": 50}, change_schema,
                      lambda a: customers(a)["fields"][-1] == {"name": "phone", "type": "string"}),
    "score stored by a worker": (DATASETS, lambda w: {"first": 50}, store_score,
                                 lambda a: customers(a)["qualityScore"] == 0.5),
    "rule change": (DATASET, lambda w: {"id": w.dataset}, change_rule,
                    lambda a: a["data"]["dataset"]["qualityRules"][0]["severity"] == "ERROR"),
    "quality result stored": (RESULTS, lambda w: {"rule": w.rule}, store_result,
                              lambda a: a["data"]["qualityResults"]["totalCount"] == 1),
    "pipeline create": (PIPELINES, lambda w: {}, create_pipeline,
                        lambda a: [p["datasets"] for p in a["data"]["pipelines"]["nodes"]] == [
                            [{"name": "spare"}], [{"name": "customers"}]]),
    "pipeline update": (PIPELINES, lambda w: {}, update_pipeline,
                        lambda a: a["data"]["pipelines"]["nodes"][0]["description"] == "v2"),
    "pipeline delete": (PIPELINES, lambda w: {}, delete_pipeline,
                        lambda a: a["data"]["pipelines"]["totalCount"] == 0),
    "schedule change": (PIPELINES, lambda w: {}, change_schedule,
                        lambda a: a["data"]["pipelines"]["nodes"][0]["schedule"] == {"cron": "0 3 * * *"}),
}


@pytest.mark.parametrize("name", list(CASES))
async def test_every_write_that_changes_the_answer_makes_the_next_read_fresh(client, world, name):
    # given the answer cached
    query, variables_of, write, shows = CASES[name]
    variables = variables_of(world)
    before = await read_twice(client, query, variables)
    cache = graphql_cache(client)
    hits = cache.answers.hits
    # when
    await write(client, world)
    after = await gql(client, query, variables)
    # then the new answer, built again (no hit)
    assert (shows(before), shows(after), cache.answers.hits) == (False, True, hits)
    # and kept in its turn
    assert await gql(client, query, variables) == after and cache.answers.hits == hits + 1


async def test_a_write_through_another_app_is_seen_by_the_next_read(client, world, start_app, settings):
    # given a second app (another process, as far as caches go) on the same database, its answer cached
    other = await start_app(settings)
    await read_twice(other, DATASETS, {"first": 50})
    # when the first app writes
    await update_dataset(client, world)
    # then
    assert customers(await gql(other, DATASETS, {"first": 50}))["description"] == "changed"
