"""OAuth 2.0: client registration, the three grants, PKCE, refresh rotation and reuse, RFC 6749 errors."""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from server.auth.jwt_tokens import OWN_KID, load_signing_secret
from tests.conftest import bearer

CLIENTS = "/api/v1/workspaces/ws_default/oauth-clients"
REDIRECT = "https://app.example.com/callback"
DATASETS = "/api/v1/datasets"


async def _register(client, scopes=("read:datasets", "write:datasets")) -> tuple[str, str]:
    resp = await client.post(CLIENTS, json={"name": "etl", "scopes": list(scopes), "redirect_uris": [REDIRECT]})
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    return body["client_id"], body["secrets"][0]["secret"]


async def _token(http, **form):
    return await http.post("/oauth/token", data=form)


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


async def _code(client, client_id: str, challenge: str, scope: str = "read:datasets") -> str:
    resp = await client.post("/oauth/authorize", json={"client_id": client_id, "redirect_uri": REDIRECT,
                                                        "scope": scope, "code_challenge": challenge,
                                                        "state": "xyz"})
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert parse_qs(urlsplit(body["redirect_to"]).query) == {"code": [body["code"]], "state": ["xyz"]}
    return body["code"]


async def test_client_credentials_token_calls_the_api(client, anonymous):
    # given
    client_id, secret = await _register(client)
    # when
    resp = await _token(anonymous, grant_type="client_credentials", client_id=client_id, client_secret=secret,
                        scope="read:datasets")
    body = await resp.json()
    # then
    assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
    assert body["token_type"] == "Bearer" and body["scope"] == "read:datasets" and "refresh_token" not in body
    assert (await anonymous.get(DATASETS, headers=bearer(body["access_token"]))).status == 200
    write = await anonymous.post(DATASETS, headers=bearer(body["access_token"]), json={})
    assert write.status == 403


async def test_http_basic_client_authentication(client, anonymous):
    client_id, secret = await _register(client)
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    resp = await anonymous.post("/oauth/token", data={"grant_type": "client_credentials"},
                                headers={"Authorization": f"Basic {basic}"})
    assert resp.status == 200


async def test_wrong_secret_is_invalid_client(client, anonymous):
    client_id, _ = await _register(client)
    _, other_secret = await _register(client)
    resp = await _token(anonymous, grant_type="client_credentials", client_id=client_id, client_secret=other_secret)
    assert resp.status == 401
    assert (await resp.json())["error"] == "invalid_client"
    assert resp.headers["Cache-Control"] == "no-store"


async def test_rfc6749_errors(client, anonymous):
    client_id, secret = await _register(client)
    missing = await _token(anonymous, client_id=client_id, client_secret=secret)
    unsupported = await _token(anonymous, grant_type="password", client_id=client_id, client_secret=secret)
    too_wide = await _token(anonymous, grant_type="client_credentials", client_id=client_id, client_secret=secret,
                            scope="admin")
    assert (missing.status, (await missing.json())["error"]) == (400, "invalid_request")
    assert (unsupported.status, (await unsupported.json())["error"]) == (400, "unsupported_grant_type")
    assert (too_wide.status, (await too_wide.json())["error"]) == (400, "invalid_scope")


@pytest.mark.parametrize(("body", "content_type"), [
    (b"grant_type=client_credentials&client_id=\xff\xfe", "application/x-www-form-urlencoded"),
    (b"grant_type=client_credentials&client_id=%ff%fe", "application/x-www-form-urlencoded"),
    (b"grant_type=client_credentials", "application/x-www-form-urlencoded; charset=bogus"),
    (b"grant_type=client_credentials", "application/x-www-form-urlencoded; charset=utf-16"),
])
async def test_a_form_that_is_not_utf8_is_invalid_request_not_a_server_error(client, anonymous, body, content_type):
    # given a registered client, so the refusal is about the encoding alone
    client_id, secret = await _register(client)
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    # when
    resp = await anonymous.post("/oauth/token", data=body,
                                headers={"Content-Type": content_type, "Authorization": f"Basic {basic}"})
    # then
    assert resp.status == 400, await resp.text()
    assert (await resp.json())["error"] == "invalid_request"
    assert resp.headers["Cache-Control"] == "no-store"


async def test_expired_or_revoked_secret_is_refused(client, anonymous):
    # given a second secret, then revoked
    client_id, _ = await _register(client)
    added = await (await client.post(f"{CLIENTS}/{client_id}/secrets", json={"expires_in": "1d"})).json()
    ok = await _token(anonymous, grant_type="client_credentials", client_id=client_id, client_secret=added["secret"])
    await client.delete(f"{CLIENTS}/{client_id}/secrets/{added['id']}")
    # when
    refused = await _token(anonymous, grant_type="client_credentials", client_id=client_id,
                           client_secret=added["secret"])
    # then
    assert ok.status == 200
    assert (await refused.json())["error"] == "invalid_client"


async def test_revoked_client_tokens_stop_working(client, anonymous):
    client_id, secret = await _register(client)
    token = (await (await _token(anonymous, grant_type="client_credentials", client_id=client_id,
                                 client_secret=secret)).json())["access_token"]
    await client.delete(f"{CLIENTS}/{client_id}")
    resp = await anonymous.get(DATASETS, headers=bearer(token))
    assert resp.status == 401
    assert (await resp.json())["error"]["details"]["reason"] == "revoked"


async def test_tampered_own_token_is_refused(client, anonymous):
    client_id, secret = await _register(client)
    token = (await (await _token(anonymous, grant_type="client_credentials", client_id=client_id,
                                 client_secret=secret)).json())["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = jwt.encode({**claims, "scope": "admin"}, "not-the-server-key-" * 3, algorithm="HS256",
                        headers={"kid": OWN_KID})
    resp = await anonymous.get(DATASETS, headers=bearer(forged))
    assert resp.status == 401


async def test_authorization_code_with_pkce_and_refresh_rotation(client, anonymous):
    # given
    client_id, secret = await _register(client)
    verifier, challenge = _pkce()
    code = await _code(client, client_id, challenge)
    # when
    resp = await _token(anonymous, grant_type="authorization_code", code=code, redirect_uri=REDIRECT,
                        code_verifier=verifier, client_id=client_id, client_secret=secret)
    first = await resp.json()
    rotated = await (await anonymous.post("/oauth/refresh", data={
        "refresh_token": first["refresh_token"], "client_id": client_id, "client_secret": secret})).json()
    # then
    assert resp.status == 200 and first["scope"] == "read:datasets"
    assert rotated["refresh_token"] != first["refresh_token"]
    assert (await anonymous.get(DATASETS, headers=bearer(rotated["access_token"]))).status == 200


async def test_wrong_verifier_or_replayed_code_is_invalid_grant(client, anonymous):
    client_id, secret = await _register(client)
    verifier, challenge = _pkce()
    code = await _code(client, client_id, challenge)
    common = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
              "client_id": client_id, "client_secret": secret}
    wrong = await _token(anonymous, **common, code_verifier=_pkce()[0])
    right = await _token(anonymous, **common, code_verifier=verifier)
    replay = await _token(anonymous, **common, code_verifier=verifier)
    assert (await wrong.json())["error"] == "invalid_grant"
    assert right.status == 200
    assert (await replay.json())["error"] == "invalid_grant"


async def test_reused_refresh_token_revokes_the_family(client, anonymous):
    # given a code flow and one rotation
    client_id, secret = await _register(client)
    verifier, challenge = _pkce()
    code = await _code(client, client_id, challenge)
    auth = {"client_id": client_id, "client_secret": secret}
    first = await (await _token(anonymous, grant_type="authorization_code", code=code, redirect_uri=REDIRECT,
                                code_verifier=verifier, **auth)).json()
    second = await (await _token(anonymous, grant_type="refresh_token", refresh_token=first["refresh_token"],
                                 **auth)).json()
    latest_access = {"Authorization": f"Bearer {second['access_token']}"}
    assert (await anonymous.get("/api/v1/datasets", headers=latest_access)).status == 200
    # when the first refresh token is presented again
    reuse = await _token(anonymous, grant_type="refresh_token", refresh_token=first["refresh_token"], **auth)
    after = await _token(anonymous, grant_type="refresh_token", refresh_token=second["refresh_token"], **auth)
    api = await anonymous.get("/api/v1/datasets", headers=latest_access)
    # then the reuse fails, so does the legitimate latest token of the family, and its access token stops now
    assert reuse.status == 400 and (await reuse.json())["error"] == "invalid_grant"
    assert after.status == 400 and (await after.json())["error"] == "invalid_grant"
    assert api.status == 401 and (await api.json())["error"]["details"]["reason"] == "revoked"


async def test_authorize_needs_admin_and_a_registered_redirect(client, reader):
    client_id, _ = await _register(client)
    _, challenge = _pkce()
    forbidden = await reader.post("/oauth/authorize", json={"client_id": client_id, "redirect_uri": REDIRECT,
                                                             "code_challenge": challenge})
    elsewhere = await client.post("/oauth/authorize", json={"client_id": client_id,
                                                             "redirect_uri": "https://evil.example.com/cb",
                                                             "code_challenge": challenge})
    assert forbidden.status == 403
    assert elsewhere.status == 400
    assert (await elsewhere.json())["error"]["details"]["field"] == "redirect_uri"


async def test_clients_are_listed_without_secret_values(client):
    client_id, secret = await _register(client)
    listed = await (await client.get(CLIENTS)).json()
    assert [c["client_id"] for c in listed["data"]] == [client_id]
    assert secret not in str(listed)
    assert listed["data"][0]["secrets"][0]["prefix"] == secret[:14]


async def test_signing_key_is_generated_once_and_kept(db):
    first, again = await load_signing_secret(""), await load_signing_secret("")
    configured = await load_signing_secret("x" * 40)
    assert first == again and len(first) >= 48
    assert configured == "x" * 40


ADD_SECRET = """mutation($client: ID!) {
  addOAuthClientSecret(workspaceId: "ws_default", clientId: $client, input: {description: "second"}) {
    __typename ... on AddOAuthClientSecretSuccess { secret clientSecret { id description } } } }"""
REVOKE_SECRET = """mutation($client: ID!, $id: ID!) {
  revokeOAuthClientSecret(workspaceId: "ws_default", clientId: $client, id: $id) {
    __typename ... on Error { code } ... on RevokeOAuthClientSecretSuccess { clientSecret { revokedAt } } } }"""


async def test_client_secrets_are_managed_in_graphql_too(client, anonymous):
    # given
    client_id, _ = await _register(client)
    # when
    added = (await (await client.post("/graphql", json={"query": ADD_SECRET, "variables": {"client": client_id}}))
             .json())["data"]["addOAuthClientSecret"]
    works = await _token(anonymous, grant_type="client_credentials", client_id=client_id, client_secret=added["secret"])
    revoked = (await (await client.post("/graphql", json={"query": REVOKE_SECRET, "variables": {
        "client": client_id, "id": added["clientSecret"]["id"]}})).json())["data"]["revokeOAuthClientSecret"]
    refused = await _token(anonymous, grant_type="client_credentials", client_id=client_id,
                           client_secret=added["secret"])
    missing = (await (await client.post("/graphql", json={"query": REVOKE_SECRET, "variables": {
        "client": client_id, "id": "ocs_nope"}})).json())["data"]["revokeOAuthClientSecret"]
    # then
    assert added["__typename"] == "AddOAuthClientSecretSuccess" and added["clientSecret"]["description"] == "second"
    assert works.status == 200
    assert revoked["clientSecret"]["revokedAt"] is not None
    assert refused.status == 401 and (await refused.json())["error"] == "invalid_client"
    assert missing == {"__typename": "NotFoundError", "code": "NOT_FOUND"}
