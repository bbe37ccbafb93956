"""Workspaces, API keys and OAuth clients through REST and GraphQL: the same records and the same refusals."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import aiohttp

from tests.conftest import Caller, bearer
from tests.graphql.helpers import gql
from tests.parity import (
    camel_keys,
    error_fields,
    field,
    gql_data,
    instant,
    narrow_key,
    pick,
    refusal,
    rest,
    rest_ok,
)

WS = "/workspaces/ws_default"
KEY_FIELDS = "id name prefix scopes allowedCidrs expiresAt revokedAt lastUsedAt createdAt"
SECRET_FIELDS = "id prefix description expiresAt revokedAt"
CLIENT_FIELDS = f"clientId name scopes redirectUris revokedAt secrets {{ {SECRET_FIELDS} }}"
KEY_ERRORS = error_fields("NotFoundError", "ValidationError")
WORKSPACE_ERRORS = error_fields("ValidationError", "ConflictError")
CREATE_WORKSPACE = f"""mutation ($name: String!) {{ createWorkspace(name: $name) {{
  {WORKSPACE_ERRORS} ... on CreateWorkspaceSuccess {{ workspace {{ id name createdAt }} }} }} }}"""
WORKSPACES = "{ workspaces(first: 50) { totalCount nodes { id name createdAt } } }"
CREATE_KEY = f"""mutation ($ws: ID!, $input: CreateApiKeyInput!) {{ createApiKey(workspaceId: $ws, input: $input) {{
  {KEY_ERRORS} ... on ApiKeySecretSuccess {{ key apiKey {{ {KEY_FIELDS} }} }} }} }}"""
ROTATE_KEY = f"""mutation ($ws: ID!, $id: ID!) {{ rotateApiKey(workspaceId: $ws, id: $id, graceSeconds: 60) {{
  {KEY_ERRORS} ... on ApiKeySecretSuccess {{ key apiKey {{ {KEY_FIELDS} }} }} }} }}"""
REVOKE_KEY = f"""mutation ($ws: ID!, $id: ID!) {{ revokeApiKey(workspaceId: $ws, id: $id) {{
  {error_fields("NotFoundError")} ... on RevokeApiKeySuccess {{ apiKey {{ {KEY_FIELDS} }} }} }} }}"""
KEYS = f"query ($ws: ID!) {{ apiKeys(workspaceId: $ws, first: 100) {{ totalCount nodes {{ {KEY_FIELDS} }} }} }}"
DATASETS = "{ datasets { totalCount } }"
CLIENT_RESULT = f"""{error_fields("NotFoundError", "ValidationError")}
  ... on CreateOAuthClientSuccess {{ secret client {{ {CLIENT_FIELDS} }} }}"""
CREATE_CLIENT = f"""mutation ($ws: ID!, $input: CreateOAuthClientInput!) {{
  createOAuthClient(workspaceId: $ws, input: $input) {{ {CLIENT_RESULT} }} }}"""
ADD_SECRET = f"""mutation ($ws: ID!, $client: ID!, $input: AddOAuthClientSecretInput) {{
  addOAuthClientSecret(workspaceId: $ws, clientId: $client, input: $input) {{ {KEY_ERRORS}
    ... on AddOAuthClientSecretSuccess {{ secret clientSecret {{ {SECRET_FIELDS} }} }} }} }}"""
REVOKE_SECRET = f"""mutation ($ws: ID!, $client: ID!, $id: ID!) {{
  revokeOAuthClientSecret(workspaceId: $ws, clientId: $client, id: $id) {{ {error_fields("NotFoundError")}
    ... on RevokeOAuthClientSecretSuccess {{ clientSecret {{ {SECRET_FIELDS} }} }} }} }}"""
REVOKE_CLIENT = f"""mutation ($ws: ID!, $client: ID!) {{ revokeOAuthClient(workspaceId: $ws, clientId: $client) {{
  {error_fields("NotFoundError")} ... on RevokeOAuthClientSuccess {{ client {{ {CLIENT_FIELDS} }} }} }} }}"""
CLIENTS = f"query ($ws: ID!) {{ oauthClients(workspaceId: $ws, first: 100) {{ nodes {{ {CLIENT_FIELDS} }} }} }}"

APP = {"name": "etl-app", "scopes": ["read:datasets"], "redirect_uris": ["https://app.example.com/cb"],
       "secret_expires_in": "30d"}
SECOND_SECRET = {"description": "rotation", "expires_in": "7d"}
ETL_KEY = {"name": "etl", "scopes": ["read:datasets", "write:datasets"], "expires_in": "30d",
           "allowed_cidrs": ["127.0.0.0/8"]}


def workspace(row: dict[str, Any]) -> dict[str, Any]:
    """A workspace as both surfaces show it."""
    return {**pick(row, "id", "name"), "created_at": instant(field(row, "created_at"))}


def api_key(row: dict[str, Any]) -> dict[str, Any]:
    """An API key as both surfaces show it (never its secret or hash)."""
    return {**pick(row, "id", "name", "prefix", "scopes", "allowed_cidrs"),
            **{name: instant(field(row, name)) for name in ("expires_at", "revoked_at", "last_used_at", "created_at")}}


def key_shape(row: dict[str, Any]) -> dict[str, Any]:
    """What two keys made alike share: all but identity and times, with the lifetime they were given."""
    whole = api_key(row)
    return {**pick(whole, "name", "scopes", "allowed_cidrs"), "prefix": whole["prefix"][:5],
            # The expiry is computed a moment before the row's creation time is stamped: whole seconds.
            "lifetime": None if whole["expires_at"] is None else round(
                (whole["expires_at"] - whole["created_at"]).total_seconds()),
            "revoked": whole["revoked_at"] is not None, "last_used_at": whole["last_used_at"]}


def secret(row: dict[str, Any]) -> dict[str, Any]:
    """A client secret as both surfaces show it (its value only once, when made)."""
    return {**pick(row, "id", "prefix", "description"),
            "expires_at": instant(field(row, "expires_at")), "revoked_at": instant(field(row, "revoked_at"))}


def oauth_client(row: dict[str, Any]) -> dict[str, Any]:
    """An OAuth client as both surfaces show it, with its secrets."""
    return {**pick(row, "client_id", "name", "scopes", "redirect_uris"),
            "revoked_at": instant(field(row, "revoked_at")), "secrets": [secret(s) for s in row["secrets"]]}


def secret_shape(row: dict[str, Any]) -> dict[str, Any]:
    """What two secrets made alike share: description, revocation, and the prefix's kind."""
    return {"description": row["description"], "prefix": row["prefix"][:5], "revoked": bool(field(row, "revoked_at"))}


def client_shape(row: dict[str, Any]) -> dict[str, Any]:
    """What two clients registered alike share: all but identity and times."""
    return {**pick(row, "name", "scopes", "redirect_uris"), "revoked": bool(field(row, "revoked_at")),
            "secrets": [secret_shape(s) for s in row["secrets"]]}


async def works(app: Caller, secret: str) -> tuple[tuple[int, Any], tuple[int, Any]]:
    """What a key may do: list datasets through REST and through GraphQL (status and body of each)."""
    caller = Caller(app.http, bearer(secret))
    resp = await caller.post("/graphql", json={"query": DATASETS})
    return await rest(caller, "GET", "/datasets"), (resp.status, await resp.json())


async def test_workspaces_are_created_listed_and_refused_alike(client, other_client):
    # when each surface creates a workspace, then meets a taken name, a bad name, and a caller who may not
    by_rest = await rest_ok(client, "POST", "/workspaces", {"name": "team rest"})
    by_graphql = (await gql_data(client, CREATE_WORKSPACE, {"name": "team graphql"}))["createWorkspace"]["workspace"]
    refusals = {name: (await rest(caller, "POST", "/workspaces", {"name": value}),
                       await gql(caller, CREATE_WORKSPACE, {"name": value}))
                for name, caller, value in (("taken", client, "team rest"), ("bad", client, "-dash first"),
                                            ("not_operator", other_client, "mine"))}
    narrow = await narrow_key(client, "read:datasets")
    refusals["narrow"] = (await rest(narrow, "POST", "/workspaces", {"name": "x"}),
                          await gql(narrow, CREATE_WORKSPACE, {"name": "x"}))
    # then both made the same kind of workspace, and both surfaces list the same ones
    assert by_rest["id"].startswith("ws_") and by_graphql["id"].startswith("ws_")
    assert (by_rest["name"], by_graphql["name"]) == ("team rest", "team graphql")
    listed_rest = (await rest_ok(client, "GET", "/workspaces?per_page=50"))["data"]
    listed_graphql = (await gql_data(client, WORKSPACES))["workspaces"]["nodes"]
    assert [workspace(w) for w in listed_rest] == [workspace(w) for w in listed_graphql]
    assert workspace(by_rest) in [workspace(w) for w in listed_graphql]
    assert workspace(await rest_ok(client, "GET", f"/workspaces/{by_graphql['id']}")) == workspace(by_graphql)
    # and every refusal has the same code and details
    for name, ((status, rest_body), graphql_body) in refusals.items():
        by_graph = graphql_body["data"]["createWorkspace"] if graphql_body.get("data") else graphql_body
        assert status >= 400 and refusal(rest_body) == refusal(by_graph), name
    assert refusal(refusals["taken"][0][1]) == ("CONFLICT", {"field": "name"})
    assert refusal(refusals["narrow"][0][1]) == ("FORBIDDEN", {"required_scope": "admin"})


async def test_api_keys_are_created_used_rotated_and_revoked_alike(client):
    # when each surface creates the same key
    made_rest = await rest_ok(client, "POST", f"{WS}/keys", ETL_KEY)
    made_graphql = (await gql_data(client, CREATE_KEY, {"ws": "ws_default", "input": camel_keys(ETL_KEY)}))[
        "createApiKey"]
    # then the keys are alike, each shown once, and each works on both surfaces
    assert key_shape(made_rest) == key_shape(made_graphql["apiKey"])
    assert key_shape(made_rest)["lifetime"] == timedelta(days=30).total_seconds()
    for secret in (made_rest["key"], made_graphql["key"]):
        (rest_status, _), (graphql_status, answer) = await works(client, secret)
        assert rest_status == graphql_status == 200 and "errors" not in answer
    # when each rotates its key, then revokes the new one
    rotated_rest = await rest_ok(client, "POST", f"{WS}/keys/{made_rest['id']}/rotate", {"grace_seconds": 60})
    rotated_graphql = (await gql_data(client, ROTATE_KEY, {"ws": "ws_default", "id": made_graphql["apiKey"]["id"]}))[
        "rotateApiKey"]
    revoked_rest = await rest_ok(client, "DELETE", f"{WS}/keys/{rotated_rest['id']}")
    revoked_graphql = (await gql_data(client, REVOKE_KEY, {"ws": "ws_default", "id": rotated_graphql["apiKey"]["id"]}))[
        "revokeApiKey"]["apiKey"]
    # then
    assert key_shape(rotated_rest) == key_shape(rotated_graphql["apiKey"])
    assert key_shape(revoked_rest) == key_shape(revoked_graphql) and key_shape(revoked_rest)["revoked"]
    for secret in (rotated_rest["key"], rotated_graphql["key"]):
        (rest_status, by_rest), (graphql_status, by_graphql) = await works(client, secret)
        assert rest_status == graphql_status == 401
        assert refusal(by_rest) == refusal(by_graphql) == ("UNAUTHORIZED", {"reason": "revoked"})
    # and both surfaces list the same keys, field by field
    listed_rest = (await rest_ok(client, "GET", f"{WS}/keys?per_page=100"))["data"]
    listed_graphql = (await gql_data(client, KEYS, {"ws": "ws_default"}))["apiKeys"]["nodes"]
    assert [api_key(k) for k in listed_rest] == [api_key(k) for k in listed_graphql]
    assert {made_rest["id"], made_graphql["apiKey"]["id"]} <= {k["id"] for k in listed_rest}


async def test_api_key_refusals_carry_the_same_codes_and_details(client, other_client):
    # given
    narrow = await narrow_key(client, "read:datasets")
    cases = [
        ("bad_scope", client, "ws_default", {**ETL_KEY, "scopes": ["read:everything"]}),
        ("bad_lifetime", client, "ws_default", {**ETL_KEY, "expires_in": "forever"}),
        ("bad_network", client, "ws_default", {**ETL_KEY, "allowed_cidrs": ["nowhere"]}),
        ("no_workspace", client, "ws_missing", ETL_KEY),
        ("other_workspace", other_client, "ws_default", ETL_KEY),
        ("narrow", narrow, "ws_default", ETL_KEY),
    ]
    for name, caller, workspace_id, body in cases:
        # when
        status, by_rest = await rest(caller, "POST", f"/workspaces/{workspace_id}/keys", body)
        answer = await gql(caller, CREATE_KEY, {"ws": workspace_id, "input": camel_keys(body)})
        # then
        by_graphql = answer["data"]["createApiKey"] if answer.get("data") else answer
        assert status >= 400 and refusal(by_rest) == refusal(by_graphql), name
    # and a key that does not exist, or is another workspace's, is not found on both
    other_key = (await rest_ok(other_client, "POST", "/workspaces/ws_other/keys", ETL_KEY))["id"]
    for key_id in ("key_missing", other_key):
        status, by_rest = await rest(client, "DELETE", f"{WS}/keys/{key_id}")
        by_graphql = (await gql_data(client, REVOKE_KEY, {"ws": "ws_default", "id": key_id}))["revokeApiKey"]
        assert status == 404 and refusal(by_rest) == refusal(by_graphql) == (
            "NOT_FOUND", {"resource": "api key", "id": key_id})
    # and listing another workspace's keys is refused alike
    status, by_rest = await rest(other_client, "GET", f"{WS}/keys")
    assert status == 404 and refusal(by_rest) == refusal(await gql(other_client, KEYS, {"ws": "ws_default"}))


async def token(app: Caller, client_id: str, secret: str) -> int:
    """The status /oauth/token answers a client-credentials grant with this secret."""
    resp = await app.http.post("/oauth/token", data={"grant_type": "client_credentials", "scope": "read:datasets"},
                               headers={"Authorization": aiohttp.encode_basic_auth(client_id, secret)})
    return resp.status


async def test_oauth_clients_are_registered_given_secrets_and_revoked_alike(client):
    # when each surface registers the same client, adds a secret to it and revokes its first one
    made_rest = await rest_ok(client, "POST", f"{WS}/oauth-clients", APP)
    made_graphql = (await gql_data(client, CREATE_CLIENT, {"ws": "ws_default", "input": camel_keys(APP)}))[
        "createOAuthClient"]
    rest_url = f"{WS}/oauth-clients/{made_rest['client_id']}"
    graphql_ids = {"ws": "ws_default", "client": made_graphql["client"]["clientId"]}
    added_rest = await rest_ok(client, "POST", f"{rest_url}/secrets", SECOND_SECRET)
    added_graphql = (await gql_data(client, ADD_SECRET, {**graphql_ids, "input": camel_keys(SECOND_SECRET)}))[
        "addOAuthClientSecret"]
    first_rest, first_graphql = made_rest["secrets"][0], made_graphql["client"]["secrets"][0]
    revoked_rest = await rest_ok(client, "DELETE", f"{rest_url}/secrets/{first_rest['id']}")
    revoked_graphql = (await gql_data(client, REVOKE_SECRET, {**graphql_ids, "id": first_graphql["id"]}))[
        "revokeOAuthClientSecret"]["clientSecret"]
    # then the clients, their secrets and what the secrets can do are alike
    assert client_shape(made_rest) == client_shape(made_graphql["client"])
    assert secret_shape(added_rest) == secret_shape(added_graphql["clientSecret"])
    assert secret_shape(revoked_rest) == secret_shape(revoked_graphql) and revoked_rest["revoked_at"]
    assert await token(client, made_rest["client_id"], first_rest["secret"]) == 401
    assert await token(client, made_graphql["client"]["clientId"], made_graphql["secret"]) == 401
    assert await token(client, made_rest["client_id"], added_rest["secret"]) == 200
    assert await token(client, made_graphql["client"]["clientId"], added_graphql["secret"]) == 200
    # when each revokes its client
    gone_rest = await rest_ok(client, "DELETE", rest_url)
    gone_graphql = (await gql_data(client, REVOKE_CLIENT, graphql_ids))["revokeOAuthClient"]["client"]
    # then both are revoked alike and both surfaces list the same clients, field by field
    assert client_shape(gone_rest) == client_shape(gone_graphql) and gone_rest["revoked_at"]
    listed_rest = (await rest_ok(client, "GET", f"{WS}/oauth-clients"))["data"]
    listed_graphql = (await gql_data(client, CLIENTS, {"ws": "ws_default"}))["oauthClients"]["nodes"]
    assert [oauth_client(c) for c in listed_rest] == [oauth_client(c) for c in listed_graphql]
    assert len(listed_rest) == 2


async def test_oauth_client_refusals_carry_the_same_codes_and_details(client, other_client):
    # given
    narrow = await narrow_key(client, "read:datasets")
    cases = [
        ("bad_redirect", client, "ws_default", {**APP, "redirect_uris": ["http://app.example.com/cb"]}),
        ("bad_scope", client, "ws_default", {**APP, "scopes": ["root"]}),
        ("bad_lifetime", client, "ws_default", {**APP, "secret_expires_in": "0d"}),
        ("other_workspace", other_client, "ws_default", APP),
        ("narrow", narrow, "ws_default", APP),
    ]
    for name, caller, workspace_id, body in cases:
        # when
        status, by_rest = await rest(caller, "POST", f"/workspaces/{workspace_id}/oauth-clients", body)
        answer = await gql(caller, CREATE_CLIENT, {"ws": workspace_id, "input": camel_keys(body)})
        # then
        by_graphql = answer["data"]["createOAuthClient"] if answer.get("data") else answer
        assert status >= 400 and refusal(by_rest) == refusal(by_graphql), name
    # and an unknown client, or an unknown secret of a real one, is not found on both
    made = await rest_ok(client, "POST", f"{WS}/oauth-clients", APP)
    for client_id, secret_id in (("oc_missing", "ocs_missing"), (made["client_id"], "ocs_missing")):
        status, by_rest = await rest(client, "DELETE", f"{WS}/oauth-clients/{client_id}/secrets/{secret_id}")
        by_graphql = (await gql_data(client, REVOKE_SECRET, {"ws": "ws_default", "client": client_id,
                                                             "id": secret_id}))["revokeOAuthClientSecret"]
        assert status == 404 and refusal(by_rest) == refusal(by_graphql), client_id


async def test_a_bad_first_secret_lifetime_names_its_own_field(client):
    # when
    status, by_rest = await rest(client, "POST", f"{WS}/oauth-clients", {**APP, "secret_expires_in": "-5d"})
    # then
    assert status == 400
    assert by_rest["error"]["details"]["field"] == "secret_expires_in"
