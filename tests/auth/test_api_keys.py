"""API keys: every refusal of a key, both headers, rotation, usage recording and the CLI bootstrap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from multidict import CIMultiDict

from resolvers.credentials import API_KEY, new_secret, well_formed
from resolvers.errors import Unauthorized
from resolvers.keys import KeyCreate, store_key
from server.__main__ import main
from server.auth.api_keys import authenticate_key
from server.auth.authenticate import AUTH
from server.db import database
from server.models.access import ApiKey
from tests.conftest import bearer

DATASETS = "/api/v1/datasets"


async def _refusal(resp, reason: str) -> dict:
    assert resp.status == 401
    assert resp.headers["WWW-Authenticate"].startswith('Bearer realm="docc"')
    body = await resp.json()
    assert body["error"]["code"] == "UNAUTHORIZED"
    assert body["error"]["details"]["reason"] == reason
    assert body["error"]["request_id"]
    return body


async def _new_key(client, **extra) -> dict:
    resp = await client.post("/api/v1/workspaces/ws_default/keys",
                             json={"name": "k", "scopes": ["read:datasets"], **extra})
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def test_no_credential_is_refused_with_a_challenge(anonymous):
    # when
    resp = await anonymous.get(DATASETS)
    # then
    await _refusal(resp, "missing")
    assert "error=" not in resp.headers["WWW-Authenticate"]


async def test_unknown_key_is_refused(anonymous):
    # given a well-formed key that was never stored
    key = new_secret(API_KEY)
    # when
    resp = await anonymous.get(DATASETS, headers=bearer(key))
    # then
    await _refusal(resp, "unknown")
    assert 'error="invalid_token"' in resp.headers["WWW-Authenticate"]


async def test_malformed_key_is_refused_before_any_database_lookup():
    # given a key with one character changed (its checksum no longer matches), and no database open
    key = new_secret(API_KEY)
    tampered = key[:10] + ("A" if key[10] != "A" else "B") + key[11:]
    assert not well_formed(tampered, API_KEY)
    # when / then: a lookup would fail with "no Tortoise context"; the refusal comes first
    with pytest.raises(Unauthorized) as caught:
        await authenticate_key(tampered, "127.0.0.1")
    assert caught.value.details == {"reason": "malformed"}


async def test_other_authorization_scheme_is_refused(anonymous):
    resp = await anonymous.get(DATASETS, headers={"Authorization": "Basic dXNlcjpwYXNz"})
    await _refusal(resp, "scheme")


async def test_private_token_header_is_accepted(anonymous, credentials):
    resp = await anonymous.get(DATASETS, headers={"private-token": credentials["admin"]})
    assert resp.status == 200


@pytest.mark.parametrize("headers", [
    [("Authorization", "Bearer {admin}"), ("Authorization", "Bearer {reader}")],
    [("Authorization", "Bearer {reader}"), ("private-token", "{admin}")],
    [("private-token", "{admin}"), ("private-token", "{reader}")],
])
async def test_two_different_credentials_in_one_request_are_refused(anonymous, credentials, headers):
    # given a request carrying two valid keys: which one a proxy in front checked is unknown
    sent = CIMultiDict((name, value.format(**credentials)) for name, value in headers)
    # when (sent by the bare test client: the Caller would merge repeated headers into one)
    resp = await anonymous.http.get(DATASETS, headers=sent)
    # then
    await _refusal(resp, "ambiguous")


async def test_the_same_key_in_both_headers_is_one_credential(anonymous, credentials):
    sent = {"Authorization": f"Bearer {credentials['reader']}", "private-token": credentials["reader"]}
    assert (await anonymous.get(DATASETS, headers=sent)).status == 200


async def test_key_is_shown_once_and_listed_by_prefix_only(client):
    # given
    created = await _new_key(client)
    # when
    listed = await (await client.get("/api/v1/workspaces/ws_default/keys")).json()
    # then
    assert created["key"].startswith(created["prefix"])
    row = next(k for k in listed["data"] if k["id"] == created["id"])
    assert "key" not in row and "key_hash" not in row
    assert created["key"] not in str(listed)


async def test_key_lists_are_paged(client):
    # given: the two fixture keys of ws_default (admin, reader) plus two more
    for _ in range(2):
        await _new_key(client)
    # when
    first = await (await client.get("/api/v1/workspaces/ws_default/keys?per_page=2")).json()
    last = await (await client.get("/api/v1/workspaces/ws_default/keys?page=2&per_page=2")).json()
    # then
    assert first["meta"]["total"] == 4 and len(first["data"]) == 2 and first["links"]["next"]
    assert len(last["data"]) == 2 and last["links"]["next"] is None
    assert not {k["id"] for k in first["data"]} & {k["id"] for k in last["data"]}


async def test_revoked_key_is_refused(client, anonymous):
    # given
    created = await _new_key(client)
    assert (await anonymous.get(DATASETS, headers=bearer(created["key"]))).status == 200
    # when
    revoked = await client.delete(f"/api/v1/workspaces/ws_default/keys/{created['id']}")
    resp = await anonymous.get(DATASETS, headers=bearer(created["key"]))
    # then
    assert revoked.status == 200 and (await revoked.json())["revoked_at"] is not None
    await _refusal(resp, "revoked")


async def test_expired_key_is_refused(client, anonymous):
    # given a key that expires in one second, checked as of two seconds later
    created = await _new_key(client, expires_in="1s")
    # when
    with pytest.raises(Unauthorized) as caught:
        await authenticate_key(created["key"], "127.0.0.1", now=datetime.now(UTC) + timedelta(seconds=2))
    # then
    assert caught.value.details == {"reason": "expired"}


async def test_expired_key_is_refused_over_http(settings, anonymous):
    # given a key whose expiry has passed (stored directly: the API refuses past expiries)
    created = await store_key("ws_default", KeyCreate(name="old", scopes=["admin"]), "tests")
    await ApiKey.filter(id=created.key.id).update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    # when
    resp = await anonymous.get(DATASETS, headers=bearer(created.secret))
    # then
    await _refusal(resp, "expired")


async def test_key_from_a_disallowed_network_is_refused(client, anonymous):
    # given a key allowed only from 10.0.0.0/8 (the test client connects from 127.0.0.1)
    created = await _new_key(client, allowed_cidrs=["10.0.0.0/8"])
    allowed = await _new_key(client, allowed_cidrs=["127.0.0.0/8"])
    # when
    resp = await anonymous.get(DATASETS, headers=bearer(created["key"]))
    # then
    await _refusal(resp, "network")
    assert (await anonymous.get(DATASETS, headers=bearer(allowed["key"]))).status == 200


async def test_invalid_key_requests_are_refused_with_field(client):
    resp = await client.post("/api/v1/workspaces/ws_default/keys", json={"name": "k", "scopes": ["read:everything"]})
    body = await resp.json()
    assert resp.status == 400
    assert body["error"]["details"]["field"] == "scopes"
    resp = await client.post("/api/v1/workspaces/ws_default/keys",
                             json={"name": "k", "scopes": ["admin"], "allowed_cidrs": ["10.0.0.300/8"]})
    assert (await resp.json())["error"]["details"]["field"] == "allowed_cidrs[0]"


async def test_rotation_keeps_the_old_key_for_the_grace_period(client, anonymous):
    # given
    old = await _new_key(client)
    # when
    resp = await client.post(f"/api/v1/workspaces/ws_default/keys/{old['id']}/rotate", json={"grace_seconds": 600})
    new = await resp.json()
    # then both work now; the old one stops at the end of the grace period
    assert resp.status == 201 and new["rotated_from"] == old["id"] and new["key"] != old["key"]
    assert (await anonymous.get(DATASETS, headers=bearer(old["key"]))).status == 200
    assert (await anonymous.get(DATASETS, headers=bearer(new["key"]))).status == 200
    with pytest.raises(Unauthorized):
        await authenticate_key(old["key"], None, now=datetime.now(UTC) + timedelta(seconds=601))


async def test_rotation_without_grace_ends_the_old_key_at_once(client, anonymous):
    old = await _new_key(client)
    await client.post(f"/api/v1/workspaces/ws_default/keys/{old['id']}/rotate", json={"grace_seconds": 0})
    await _refusal(await anonymous.get(DATASETS, headers=bearer(old["key"])), "expired")


async def test_last_used_at_is_recorded_off_the_request_path(client, credentials):
    # given
    created = await _new_key(client)
    await client.get(DATASETS, headers=bearer(created["key"]))
    stored = await ApiKey.get(id=created["id"])
    assert stored.last_used_at is None  # nothing written on the request path
    # when
    flushed = await client.app[AUTH].usage.flush()
    # then
    assert flushed >= 1
    assert (await ApiKey.get(id=created["id"])).last_used_at is not None


def test_create_key_cli_prints_the_key_alone_on_the_last_line(database_url, capsys, monkeypatch):
    # given
    monkeypatch.setenv("DOCC_DATABASE_URL", database_url)
    # when
    code = main(["create-key", "--name", "bootstrap", "--scopes", "admin,read:datasets", "--expires-in", "30d"])
    # then
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert code == 0
    assert well_formed(last, API_KEY)


def test_create_key_cli_refuses_an_unknown_scope(database_url, capsys, monkeypatch):
    monkeypatch.setenv("DOCC_DATABASE_URL", database_url)
    code = main(["create-key", "--name", "x", "--scopes", "root"])
    assert code == 2
    assert "Unknown scope" in capsys.readouterr().err


async def test_cli_key_authenticates(database_url):
    # given
    async with database(database_url):
        created = await store_key("ws_default", KeyCreate(name="cli", scopes=["admin"]), "cli")
        # when
        identity = await authenticate_key(created.secret, "127.0.0.1")
    # then
    assert identity.principal.workspace_id == "ws_default"
    assert identity.principal.scopes == frozenset({"admin"})
