"""What the GraphQL cache tests read and write: a dataset with a rule, a spare dataset, a pipeline reading them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.graphql import DoccGraphQLView
from server.graphql_cache import GraphQLCache
from tests.examples import CREATE_QUALITY_RULE, dataset_body


def graphql_cache(caller: Any) -> GraphQLCache:
    """The answer cache of the app behind a test client."""
    for route in caller.app.router.routes():
        if isinstance(route.handler, DoccGraphQLView):
            return route.handler.cache
    raise AssertionError("no GraphQL view mounted")


async def rest(caller: Any, method: str, path: str, body: Any = None, status: int = 200) -> Any:
    resp = await caller.request(method, f"/api/v1{path}", json=body)
    assert resp.status == status, await resp.text()
    return await resp.json() if resp.status != 204 else None


def pipeline_body(name: str, dataset_id: str, folder: Path) -> dict[str, Any]:
    return {"name": name, "steps": [
        {"id": "input", "type": "data_source", "config": {"dataset_id": dataset_id}},
        {"id": "output", "type": "data_sink", "config": {"path": str(folder / f"{name}.csv")}}]}


@dataclass
class World:
    dataset: str
    spare: str
    rule: str
    pipeline: str
    folder: Path


async def make_world(client: Any, folder: Path) -> World:
    dataset = (await rest(client, "POST", "/datasets", dataset_body(name="customers"), 201))["id"]
    spare = (await rest(client, "POST", "/datasets", dataset_body(name="spare"), 201))["id"]
    rule = (await rest(client, "POST", "/quality/rules", {**CREATE_QUALITY_RULE, "dataset_id": dataset}, 201))["id"]
    pipeline = (await rest(client, "POST", "/pipelines", pipeline_body("copy", dataset, folder), 201))["id"]
    return World(dataset, spare, rule, pipeline, folder)


DATASETS = """query Page($first: Int!) {
  datasets(first: $first) {
    totalCount
    edges { node { id name description tags qualityScore fields { name type }
                   qualityRules { name severity } latestQualityResults { id status } } }
  }
}"""
DATASET = "query One($id: ID!) { dataset(id: $id) { name qualityRules { name severity } } }"
RESULTS = "query Results($rule: ID!) { qualityResults(ruleId: $rule) { totalCount nodes { id status } } }"
PIPELINES = """query Pipelines {
  pipelines(first: 20) { totalCount nodes { name description version datasets { name } schedule { cron } } }
}"""
RUN_RULE = "mutation Run($id: ID!) { runQualityRule(id: $id) { __typename } }"
