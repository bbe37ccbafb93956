"""Shapes of the OAuth answers: a new client secret as `client_secret` on both surfaces, and `expires_in`
as a number from /oauth/authorize as from /oauth/token."""

from __future__ import annotations

import base64
import hashlib
import secrets

from tests.graphql.helpers import gql

CLIENTS = "/api/v1/workspaces/ws_default/oauth-clients"
REDIRECT = "https://app.example.com/callback"

CREATE_CLIENT = """
mutation ($ws: ID!, $input: CreateOAuthClientInput!) {
  createOAuthClient(workspaceId: $ws, input: $input) {
    __typename
    ... on CreateOAuthClientSuccess { secret clientSecret client { clientId secrets { id prefix } } }
    ... on Error { code message }
  }
}
"""


async def _token(http, client_id: str, secret: str):
    return await http.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                                 "client_secret": secret})


async def test_rest_registration_answers_the_secret_as_client_secret(client, anonymous):
    # when
    resp = await client.post(CLIENTS, json={"name": "etl", "scopes": ["read:datasets"]})
    body = await resp.json()
    # then the one value is under both names, shown once, and it is the client's working secret
    assert resp.status == 201 and resp.headers["Cache-Control"] == "no-store"
    assert body["client_secret"] == body["secrets"][0]["secret"]
    assert body["client_secret"].startswith(body["secrets"][0]["prefix"])
    assert (await _token(anonymous, body["client_id"], body["client_secret"])).status == 200
    # and a listing never shows it again
    listed = await (await client.get(CLIENTS)).json()
    shown = next(c for c in listed["data"] if c["client_id"] == body["client_id"])
    assert "client_secret" not in shown and all("secret" not in s for s in shown["secrets"])


async def test_rest_secret_rotation_answers_the_new_secret_as_client_secret(client, anonymous):
    # given a client
    created = await (await client.post(CLIENTS, json={"name": "etl", "scopes": ["read:datasets"]})).json()
    # when a second secret is added (rotation: the old one is revoked after)
    resp = await client.post(f"{CLIENTS}/{created['client_id']}/secrets", json={"expires_in": "1d"})
    added = await resp.json()
    # then
    assert resp.status == 201 and resp.headers["Cache-Control"] == "no-store"
    assert added["client_secret"] == added["secret"] != created["client_secret"]
    assert (await _token(anonymous, created["client_id"], added["client_secret"])).status == 200


async def test_rest_registration_refuses_bad_input_before_storing(client):
    # when
    resp = await client.post(CLIENTS, json={"name": "x", "scopes": ["nope"]})
    # then a bad input is refused, naming the field, and nothing is stored
    body = await resp.json()
    assert resp.status == 400 and body["error"]["code"] == "VALIDATION_ERROR"
    assert body["error"]["details"]["field"] == "scopes"
    assert (await (await client.get(CLIENTS)).json())["meta"]["total"] == 0


async def test_other_workspace_admin_cannot_register_here(other_client):
    # when an admin of another workspace registers a client in the default workspace
    resp = await other_client.post(CLIENTS, json={"name": "etl", "scopes": ["read:datasets"]})
    # then that workspace does not exist for it, and no secret is shown
    body = await resp.json()
    assert resp.status == 404 and body["error"]["code"] == "NOT_FOUND" and "client_secret" not in body


async def test_graphql_registration_answers_client_secret(client, anonymous):
    # when
    body = await gql(client, CREATE_CLIENT, {"ws": "ws_default", "input": {"name": "etl",
                                                                           "scopes": ["read:datasets"]}})
    created = body["data"]["createOAuthClient"]
    # then
    assert created["__typename"] == "CreateOAuthClientSuccess"
    assert created["clientSecret"] == created["secret"]
    assert created["clientSecret"].startswith(created["client"]["secrets"][0]["prefix"])
    assert (await _token(anonymous, created["client"]["clientId"], created["clientSecret"])).status == 200


async def test_graphql_registration_refuses_bad_input_as_a_validation_error(client):
    body = await gql(client, CREATE_CLIENT, {"ws": "ws_default", "input": {"name": "etl", "scopes": ["nope"]}})
    refused = body["data"]["createOAuthClient"]
    assert refused["__typename"] == "ValidationError" and refused["code"] == "VALIDATION_ERROR"


async def test_authorize_and_token_answer_expires_in_as_numbers(client, anonymous):
    # given a client with a redirect URI and a PKCE pair
    created = await (await client.post(CLIENTS, json={"name": "app", "scopes": ["read:datasets"],
                                                      "redirect_uris": [REDIRECT]})).json()
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    # when a code is approved and exchanged
    approved = await (await client.post("/oauth/authorize", json={
        "client_id": created["client_id"], "redirect_uri": REDIRECT, "code_challenge": challenge})).json()
    tokens = await (await anonymous.post("/oauth/token", data={
        "grant_type": "authorization_code", "client_id": created["client_id"],
        "client_secret": created["client_secret"], "code": approved["code"], "redirect_uri": REDIRECT,
        "code_verifier": verifier})).json()
    # then both lifetimes are integers of seconds
    assert approved["expires_in"] == 60 and isinstance(approved["expires_in"], int)
    assert isinstance(tokens["expires_in"], int) and tokens["expires_in"] > 0
