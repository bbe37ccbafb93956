"""GraphQL datasets: queries, cursor pages, and mutations answering with success or typed errors."""

from __future__ import annotations

from schema import build_schema
from tests.graphql.helpers import (
    DATASET_QUERY,
    DATASETS_QUERY,
    DELETE_DATASET_MUTATION,
    UPDATE_DATASET_MUTATION,
    UPDATE_SCHEMA_MUTATION,
    VALIDATE_SCHEMA_MUTATION,
    create_dataset,
    gql,
    schema_input,
)


async def test_create_dataset_masks_the_password(client):
    # when
    result = await create_dataset(client)
    # then
    assert result["__typename"] == "CreateDatasetSuccess"
    dataset = result["dataset"]
    assert dataset["id"].startswith("ds_")
    assert dataset["source"]["connection"] == "postgresql://user:***@host:5432/db"
    assert [f["name"] for f in dataset["fields"]] == ["id", "name", "email"]
    assert dataset["revision"] == 1 and dataset["schemaVersion"] == 1


async def test_create_errors_are_union_members(client):
    # given
    await create_dataset(client)
    # when
    duplicate = await create_dataset(client)
    invalid = await create_dataset(client, name="other", source={"type": "DATABASE", "connection": "nope",
                                                                 "table": "t"})
    unknown_table = await create_dataset(client, name="x", source={"type": "FILE", "path": "/data/blob.bin"})
    # then
    assert duplicate["__typename"] == "ConflictError" and duplicate["code"] == "CONFLICT"
    assert invalid["__typename"] == "ValidationError" and invalid["field"] == "source.connection"
    assert unknown_table["code"] == "VALIDATION_ERROR" and unknown_table["field"] == "source.format"


async def test_dataset_query_returns_null_when_missing(client):
    body = await gql(client, DATASET_QUERY, {"id": "ds_missing"})
    assert body["data"]["dataset"] is None and "errors" not in body


async def test_cursor_pages_walk_the_whole_list(client):
    # given
    for index in range(5):
        await create_dataset(client, name=f"set{index}", tags=["even" if index % 2 == 0 else "odd"])
    # when
    seen, after = [], None
    while True:
        page = (await gql(client, DATASETS_QUERY, {"first": 2, "after": after}))["data"]["datasets"]
        seen += [edge["node"]["name"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    # then
    assert seen == ["set4", "set3", "set2", "set1", "set0"]
    assert page["totalCount"] == 5 and page["pageInfo"]["hasPreviousPage"] is True
    evens = (await gql(client, DATASETS_QUERY, {"filter": {"tags": ["even"]}}))["data"]["datasets"]
    assert evens["totalCount"] == 3


async def test_page_size_and_cursor_are_validated(client):
    too_big = await gql(client, DATASETS_QUERY, {"first": 101})
    assert too_big["errors"][0]["extensions"]["code"] == "VALIDATION_ERROR"
    bad_cursor = await gql(client, DATASETS_QUERY, {"after": "!!!"})
    assert bad_cursor["errors"][0]["extensions"]["details"]["field"] == "after"


async def test_update_with_expected_revision(client):
    # given
    dataset = (await create_dataset(client))["dataset"]
    ok = await gql(client, UPDATE_DATASET_MUTATION, {"id": dataset["id"], "input": {"description": "v2"},
                                                     "expectedRevision": 1})
    assert ok["data"]["updateDataset"]["dataset"]["revision"] == 2
    # when
    stale = await gql(client, UPDATE_DATASET_MUTATION, {"id": dataset["id"], "input": {"description": "v3"},
                                                        "expectedRevision": 1})
    # then
    error = stale["data"]["updateDataset"]
    assert error["__typename"] == "PreconditionFailedError"
    assert (error["expectedRevision"], error["currentRevision"]) == (1, 2)
    missing = await gql(client, UPDATE_DATASET_MUTATION, {"id": "ds_gone", "input": {"description": "x"}})
    assert missing["data"]["updateDataset"]["__typename"] == "NotFoundError"


async def test_schema_mutations(client):
    # given
    dataset = (await create_dataset(client))["dataset"]
    breaking = schema_input(("id", "integer", False), ("age", "integer", False))
    # when
    dry = await gql(client, VALIDATE_SCHEMA_MUTATION, {"id": dataset["id"], "schema": breaking})
    refused = await gql(client, UPDATE_SCHEMA_MUTATION, {"id": dataset["id"], "schema": breaking})
    forced = await gql(client, UPDATE_SCHEMA_MUTATION, {"id": dataset["id"], "schema": breaking, "force": True})
    # then
    report = dry["data"]["validateDatasetSchema"]["report"]
    assert report["compatible"] is False and report["violations"][0]["field"] == "age"
    assert refused["data"]["updateDatasetSchema"]["__typename"] == "SchemaIncompatibleError"
    assert refused["data"]["updateDatasetSchema"]["code"] == "SCHEMA_INCOMPATIBLE"
    stored = forced["data"]["updateDatasetSchema"]["version"]
    assert stored["version"] == 2 and stored["forced"] is True
    history = (await gql(client, DATASET_QUERY, {"id": dataset["id"]}))["data"]["dataset"]["schemaHistory"]
    assert [n["version"] for n in history["nodes"]] == [2, 1]


async def test_delete(client):
    dataset = (await create_dataset(client))["dataset"]
    deleted = await gql(client, DELETE_DATASET_MUTATION, {"id": dataset["id"]})
    assert deleted["data"]["deleteDataset"] == {"__typename": "DeleteDatasetSuccess", "deletedId": dataset["id"]}
    again = await gql(client, DELETE_DATASET_MUTATION, {"id": dataset["id"]})
    assert again["data"]["deleteDataset"]["__typename"] == "NotFoundError"


async def test_graphql_errors_carry_codes_and_request_id(client):
    resp = await client.post("/graphql", json={"query": "{ nope }"}, headers={"X-Request-ID": "gql-1"})
    body = await resp.json()
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert body["errors"][0]["extensions"]["request_id"] == "gql-1"
    assert resp.headers["X-Request-ID"] == "gql-1"


async def test_depth_limit_is_enforced_before_execution(client):
    deep = "{ datasets { edges { node { schemaHistory { edges { node { fields { name } } } } } } } }"
    # given a server whose depth bound is 3
    shallow = build_schema(max_depth=3)
    # when
    result = await shallow.execute(deep)
    # then: refused at validation, nothing resolved
    assert result.data is None
    assert "exceeds maximum operation depth" in result.errors[0].message
