"""Workspaces: another workspace's objects do not exist for a credential; admins manage their own."""

from __future__ import annotations

DATASETS = "/api/v1/datasets"
SOURCE = {"type": "file", "path": "/data/a.csv"}


async def _dataset(caller, name: str = "orders") -> str:
    resp = await caller.post(DATASETS, json={"name": name, "source": SOURCE})
    assert resp.status == 201, await resp.text()
    return (await resp.json())["id"]


async def test_another_workspaces_dataset_is_404_like_a_missing_one(client, other_client):
    # given a dataset of ws_other
    theirs = await _dataset(other_client)
    # when the default workspace asks for it, and for an id that never existed
    foreign = await client.get(f"{DATASETS}/{theirs}")
    missing = await client.get(f"{DATASETS}/ds_00000000000000000000")
    # then both answers are the same 404
    assert foreign.status == missing.status == 404
    a, b = (await foreign.json())["error"], (await missing.json())["error"]
    assert a["code"] == b["code"] == "NOT_FOUND"
    assert a["message"].replace(theirs, "ID") == b["message"].replace("ds_00000000000000000000", "ID")
    for verb in ("put", "delete"):
        resp = await getattr(client, verb)(f"{DATASETS}/{theirs}", json={"description": "x"})
        assert resp.status == 404, verb
    assert (await other_client.get(f"{DATASETS}/{theirs}")).status == 200


async def test_lists_and_graphql_see_only_their_workspace(client, other_client):
    theirs = await _dataset(other_client, "theirs")
    ours = await _dataset(client, "ours")
    listed = await (await client.get(DATASETS)).json()
    query = {"query": "query($id: ID!) { dataset(id: $id) { id } }", "variables": {"id": theirs}}
    graphql = await (await client.post("/graphql", json=query)).json()
    assert [d["id"] for d in listed["data"]] == [ours]
    assert graphql["data"]["dataset"] is None


async def test_same_name_in_two_workspaces_is_allowed(client, other_client):
    await _dataset(client, "shared")
    await _dataset(other_client, "shared")


async def test_admin_of_another_workspace_cannot_see_our_keys(other_client):
    resp = await other_client.get("/api/v1/workspaces/ws_default/keys")
    assert resp.status == 404
    assert (await resp.json())["error"]["details"] == {"resource": "workspace", "id": "ws_default"}


async def test_only_default_workspace_admins_create_workspaces(client, other_client):
    # when
    created = await client.post("/api/v1/workspaces", json={"name": "analytics"})
    refused = await other_client.post("/api/v1/workspaces", json={"name": "mine"})
    duplicate = await client.post("/api/v1/workspaces", json={"name": "analytics"})
    # then
    assert created.status == 201
    workspace_id = (await created.json())["id"]
    assert refused.status == 403
    assert duplicate.status == 409
    key = await client.post(f"/api/v1/workspaces/{workspace_id}/keys", json={"name": "a", "scopes": ["admin"]})
    assert key.status == 201 and (await key.json())["workspace_id"] == workspace_id


async def test_workspace_listing(client, other_client):
    ours = await (await client.get("/api/v1/workspaces")).json()
    theirs = await (await other_client.get("/api/v1/workspaces")).json()
    assert {w["id"] for w in ours["data"]} == {"ws_default", "ws_other"}
    assert [w["id"] for w in theirs["data"]] == ["ws_other"]


async def test_graphql_key_management(client, anonymous):
    # given
    create = """mutation { createApiKey(workspaceId: "ws_default", input: {name: "g", scopes: ["read:datasets"]}) {
      __typename ... on ApiKeySecretSuccess { key apiKey { id prefix } } ... on ValidationError { field } } }"""
    # when
    made = (await (await client.post("/graphql", json={"query": create})).json())["data"]["createApiKey"]
    works = await anonymous.get(DATASETS, headers={"private-token": made["key"]})
    revoke = f'mutation {{ revokeApiKey(workspaceId: "ws_default", id: "{made["apiKey"]["id"]}") {{ __typename }} }}'
    revoked = await (await client.post("/graphql", json={"query": revoke})).json()
    after = await anonymous.get(DATASETS, headers={"private-token": made["key"]})
    # then
    assert made["__typename"] == "ApiKeySecretSuccess"
    assert works.status == 200
    assert revoked["data"]["revokeApiKey"]["__typename"] == "RevokeApiKeySuccess"
    assert after.status == 401


async def test_graphql_key_validation_and_foreign_workspace(client, other_client):
    bad = 'mutation { createApiKey(workspaceId: "ws_default", input: {name: "g", scopes: ["nope"]}) ' \
          '{ __typename ... on ValidationError { field } } }'
    foreign = '{ apiKeys(workspaceId: "ws_default") { nodes { id } } }'
    invalid = (await (await client.post("/graphql", json={"query": bad})).json())["data"]["createApiKey"]
    hidden = await (await other_client.post("/graphql", json={"query": foreign})).json()
    assert invalid == {"__typename": "ValidationError", "field": "scopes"}
    assert hidden["errors"][0]["extensions"]["code"] == "NOT_FOUND"
