"""Websocket connections: the legacy protocol's close codes, keep-alives, and open sockets per credential."""

from __future__ import annotations

from dataclasses import replace

import aiohttp
import pytest


@pytest.fixture
async def tight(start_app, settings, credentials):
    """An app allowing two sockets per credential, with a fast heartbeat; returns its raw test client."""
    auth = replace(settings.auth, ws_max_sockets_per_credential=2, ws_heartbeat_seconds=0.2)
    caller = await start_app(replace(settings, auth=auth, run_jobs=False, run_schedules=False))
    return caller.http


async def connect(http, key: str, protocol: str = "graphql-transport-ws", **options):
    ws = await http.ws_connect("/graphql", protocols=[protocol], **options)
    await ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}})
    return ws


async def test_the_legacy_protocol_closes_a_bad_credential_with_4403(http):
    # given
    ws = await connect(http, "dk_not_a_key", "graphql-ws")
    # when
    first = await ws.receive_json()
    closing = await ws.receive()
    # then
    assert first["type"] == "connection_error"
    assert closing.type in {aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED} and ws.close_code == 4403


async def test_a_credential_holds_at_most_its_number_of_sockets(tight, credentials):
    # given two acknowledged sockets of one key
    held = [await connect(tight, credentials["admin"]) for _ in range(2)]
    for ws in held:
        assert (await ws.receive_json())["type"] == "connection_ack"
    # when a third opens, and one of another key
    third = await connect(tight, credentials["admin"])
    await third.receive()
    other = await connect(tight, credentials["other"])
    # then the third is closed with 4429 and the other key is not affected
    assert third.close_code == 4429
    assert (await other.receive_json())["type"] == "connection_ack"
    # and once a socket closes, its place is free again
    await held[0].close()
    again = await connect(tight, credentials["admin"])
    assert (await again.receive_json())["type"] == "connection_ack"
    for ws in (*held, other, again):
        await ws.close()


async def test_both_protocols_are_kept_alive(tight, credentials):
    # given
    legacy = await connect(tight, credentials["admin"], "graphql-ws")
    modern = await connect(tight, credentials["admin"], autoping=False)
    # when
    legacy_messages = [(await legacy.receive_json())["type"] for _ in range(3)]
    modern_frames = [await modern.receive() for _ in range(2)]
    # then: the legacy protocol's `ka` messages, and ping frames on graphql-transport-ws
    assert legacy_messages[0] == "connection_ack" and "ka" in legacy_messages[1:]
    assert aiohttp.WSMsgType.PING in {frame.type for frame in modern_frames}
    await legacy.close()
    await modern.close()

