"""The statements behind one cached list read: the API key and the list's version come in one.

The version is read with the credential, in the same statement, so a cached page costs one statement
while every write (and every revocation) is still seen by the very next request.
"""

from __future__ import annotations

import dataclasses

import pytest

from tests.examples import CREATE_DATASET

LIST = "/api/v1/datasets?per_page=100"
CLIENTS = "/api/v1/workspaces/ws_default/oauth-clients"


@pytest.fixture
def settings(settings):
    # No background work (job claims, schedules, usage flushes) sending statements between the requests.
    return dataclasses.replace(settings, run_jobs=False, run_schedules=False)


async def create(caller, name: str) -> None:
    response = await caller.post("/api/v1/datasets", json={**CREATE_DATASET, "name": name})
    assert response.status == 201, await response.text()


async def listed(caller, **kwargs) -> list[str]:
    response = await caller.get(LIST, **kwargs)
    assert response.status == 200, await response.text()
    return [item["name"] for item in (await response.json())["data"]]


async def test_a_cached_list_read_with_an_api_key_sends_one_statement(client, statements):
    # given: a page built and cached
    await create(client, "orders")
    assert await listed(client) == ["orders"]
    tag = (await client.get(LIST)).headers["ETag"]
    # when: the same page is read again, plainly and conditionally
    statements.clear()
    again = await client.get(LIST)
    plain = list(statements)
    statements.clear()
    conditional = await client.get(LIST, headers={"If-None-Match": tag})
    # then: each is one statement, the key's, which reads the version too
    assert again.status == 200 and conditional.status == 304
    assert len(plain) == 1 and len(statements) == 1
    assert "api_keys" in plain[0] and "dataset_list_versions" in plain[0]


async def test_a_write_is_seen_by_the_next_cached_read(client, other_client):
    # given: both workspaces' pages cached
    await create(client, "orders")
    assert await listed(client) == ["orders"] and await listed(other_client) == []
    # when: a write in one workspace
    await create(client, "customers")
    # then: its next read shows it, the other workspace's page is unchanged
    assert await listed(client) == ["customers", "orders"]
    assert await listed(other_client) == []


async def test_a_key_revoked_after_a_cached_read_is_refused_on_the_next_request(client, anonymous):
    # given: a second key that has read (and so cached) the page
    made = await (await client.post("/api/v1/workspaces/ws_default/keys",
                                    json={"name": "short-lived", "scopes": ["read:datasets"]})).json()
    key = {"Authorization": f"Bearer {made['key']}"}
    await create(client, "orders")
    assert await listed(anonymous, headers=key) == ["orders"]
    # when
    revoked = await client.delete(f"/api/v1/workspaces/ws_default/keys/{made['id']}")
    # then
    assert revoked.status == 200
    refused = await anonymous.get(LIST, headers=key)
    assert refused.status == 401
    assert (await refused.json())["error"]["details"]["reason"] == "revoked"


async def test_a_token_credential_reads_the_version_itself_and_sees_every_write(client, anonymous):
    # given: an OAuth client's token (no key row to read the version with), its page cached
    registered = await (await client.post(CLIENTS, json={"name": "etl", "scopes": ["read:datasets"],
                                                         "redirect_uris": ["https://app.example.com/cb"]})).json()
    grant = await anonymous.post("/oauth/token", data={
        "grant_type": "client_credentials", "client_id": registered["client_id"],
        "client_secret": registered["secrets"][0]["secret"], "scope": "read:datasets"})
    token = {"Authorization": f"Bearer {(await grant.json())['access_token']}"}
    await create(client, "orders")
    assert await listed(anonymous, headers=token) == ["orders"]
    # when
    await create(client, "customers")
    # then
    assert await listed(anonymous, headers=token) == ["customers", "orders"]
