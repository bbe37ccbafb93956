"""GraphQL over websocket (graphql-transport-ws): authentication at connection_init, scopes, and
sockets closed when their credential is revoked or expires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import WSMsgType

from resolvers.keys import KeyCreate, store_key
from server.config import AuthSettings, Settings
from tests.conftest import test_settings

PROTOCOL = "graphql-transport-ws"
QUERY = "{ datasets { totalCount } }"
MUTATION = 'mutation { deleteDataset(id: "ds_x") { __typename } }'


@pytest.fixture
def settings(database_url, tmp_path) -> Settings:
    # Re-check credentials every 50 ms so revocation is seen quickly; tests wait for the close frame itself.
    return test_settings(database_url, tmp_path, auth=AuthSettings(ws_auth_check_seconds=0.05))


async def _open(caller, payload: dict | None = None, headers: dict | None = None):
    ws = await caller.ws_connect("/graphql", protocols=[PROTOCOL], headers=headers or {})
    await ws.send_json({"type": "connection_init", "payload": payload or {}})
    return ws


async def _run(ws, query: str, op_id: str = "1") -> dict:
    await ws.send_json({"id": op_id, "type": "subscribe", "payload": {"query": query}})
    message = await ws.receive_json(timeout=5)
    assert message["id"] == op_id
    return message


async def test_connection_init_with_a_key_is_acknowledged(anonymous, credentials):
    # when
    ws = await _open(anonymous, {"authorization": f"Bearer {credentials['admin']}"})
    # then
    assert (await ws.receive_json(timeout=5))["type"] == "connection_ack"
    result = await _run(ws, QUERY)
    assert result["type"] == "next" and result["payload"]["data"]["datasets"]["totalCount"] == 0
    await ws.close()


async def test_private_token_payload_and_upgrade_headers_are_accepted(anonymous, credentials):
    by_payload = await _open(anonymous, {"private-token": credentials["admin"]})
    by_header = await _open(anonymous, headers={"Authorization": f"Bearer {credentials['admin']}"})
    assert (await by_payload.receive_json(timeout=5))["type"] == "connection_ack"
    assert (await by_header.receive_json(timeout=5))["type"] == "connection_ack"
    await by_payload.close()
    await by_header.close()


@pytest.mark.parametrize("payload", [{}, {"authorization": "Bearer docc_unknown"},
                                     {"authorization": "Basic abc"}])
async def test_bad_or_missing_credentials_are_rejected(anonymous, payload):
    # when
    ws = await _open(anonymous, payload)
    message = await ws.receive(timeout=5)
    # then
    assert message.type == WSMsgType.CLOSE
    assert message.data == 4403


async def test_subscribe_before_init_is_refused(anonymous):
    ws = await anonymous.ws_connect("/graphql", protocols=[PROTOCOL])
    await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": QUERY}})
    message = await ws.receive(timeout=5)
    assert (message.type, message.data) == (WSMsgType.CLOSE, 4401)


async def test_insufficient_scope_over_websocket(anonymous, credentials):
    # given a read-only key
    ws = await _open(anonymous, {"authorization": f"Bearer {credentials['reader']}"})
    assert (await ws.receive_json(timeout=5))["type"] == "connection_ack"
    # when
    result = await _run(ws, MUTATION)
    # then
    errors = result["payload"]["errors"]
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    assert errors[0]["extensions"]["details"]["required_scope"] == "write:datasets"
    await ws.close()


async def test_socket_closes_when_its_key_is_revoked(client, anonymous):
    # given a socket authenticated with a fresh key
    made = await (await client.post("/api/v1/workspaces/ws_default/keys",
                                    json={"name": "ws", "scopes": ["read:datasets"]})).json()
    ws = await _open(anonymous, {"authorization": f"Bearer {made['key']}"})
    assert (await ws.receive_json(timeout=5))["type"] == "connection_ack"
    # when
    await client.delete(f"/api/v1/workspaces/ws_default/keys/{made['id']}")
    message = await ws.receive(timeout=5)
    # then
    assert (message.type, message.data) == (WSMsgType.CLOSE, 4401)
    assert message.extra == "Credential expired or revoked"


async def test_socket_closes_when_its_key_expires(anonymous):
    # given a key expiring in under a second
    expires_at = (datetime.now(UTC) + timedelta(seconds=0.5)).isoformat()
    created = await store_key("ws_default", KeyCreate(name="short", scopes=["read:datasets"], expires_at=expires_at),
                              "tests")
    ws = await _open(anonymous, {"authorization": f"Bearer {created.secret}"})
    assert (await ws.receive_json(timeout=5))["type"] == "connection_ack"
    # when / then: the server closes it on its own
    message = await ws.receive(timeout=5)
    assert (message.type, message.data) == (WSMsgType.CLOSE, 4401)
