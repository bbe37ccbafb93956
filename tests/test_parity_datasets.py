"""The same dataset operations through REST and GraphQL end in the same state and the same refusals."""

from __future__ import annotations

from tests.examples import CREATE_DATASET, fields
from tests.graphql.helpers import (
    DATASET_QUERY,
    UPDATE_DATASET_MUTATION,
    UPDATE_SCHEMA_MUTATION,
    create_dataset,
    gql,
    schema_input,
)

WIDER = [("id", "bigint", False), ("name", "string", False), ("email", "string", True)]


def marked(schema: dict) -> dict:
    """The schema with its email column marked sensitive."""
    return {"fields": [{**f, "sensitive": True} if f["name"] == "email" else f for f in schema["fields"]]}


def comparable(dataset: dict) -> dict:
    """The fields both surfaces expose, in one spelling."""
    return {
        "name": dataset["name"],
        "description": dataset["description"],
        "status": dataset["status"],
        "tags": dataset["tags"],
        "connection": dataset["source"]["connection"],
        "table": dataset["source"]["table"],
        "fields": [(f["name"], f["type"].lower(), f["nullable"], f.get("sensitive", False)) for f in
                   (dataset["schema"]["fields"] if "schema" in dataset else dataset["fields"])],
    }


async def via_rest(client) -> tuple[dict, dict]:
    created = await (await client.post("/api/v1/datasets", json={**CREATE_DATASET, "name": "rest"})).json()
    url = f"/api/v1/datasets/{created['id']}"
    await client.put(url, json={"description": "changed", "tags": ["a", "b"]})
    await client.put(f"{url}/schema", json=marked(fields(*WIDER)))
    refused = await (await client.put(f"{url}/schema", json=fields(("id", "integer", False)))).json()
    return await (await client.get(url)).json(), refused["error"]


async def via_graphql(client) -> tuple[dict, dict]:
    created = (await create_dataset(client, name="graphql"))["dataset"]
    await gql(client, UPDATE_DATASET_MUTATION, {"id": created["id"],
                                                "input": {"description": "changed", "tags": ["a", "b"]}})
    await gql(client, UPDATE_SCHEMA_MUTATION, {"id": created["id"], "schema": marked(schema_input(*WIDER))})
    refused = await gql(client, UPDATE_SCHEMA_MUTATION, {"id": created["id"],
                                                         "schema": schema_input(("id", "integer", False))})
    final = await gql(client, DATASET_QUERY, {"id": created["id"]})
    return final["data"]["dataset"], refused["data"]["updateDatasetSchema"]


async def test_rest_and_graphql_agree(client):
    # when
    rest_state, rest_error = await via_rest(client)
    graphql_state, graphql_error = await via_graphql(client)
    # then
    assert {**comparable(rest_state), "name": None} == {**comparable(graphql_state), "name": None}
    assert rest_error["code"] == graphql_error["code"] == "SCHEMA_INCOMPATIBLE"
    assert rest_error["details"]["violations"] == graphql_error["details"]["violations"]
    assert graphql_state["schemaVersion"] == 2
    assert [f["sensitive"] for f in graphql_state["fields"]] == [False, False, True]
