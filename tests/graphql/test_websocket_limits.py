"""Websocket connections: the legacy protocol's close codes, keep-alives, and open sockets per credential."""

from __future__ import annotations

from dataclasses import replace

import aiohttp
import pytest

from tests.rest.test_pipelines import example, make_dataset


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



FEED = "subscription { jobEvents(after: 0) { cursor kind } }"


@pytest.fixture
async def limited(start_app, settings, credentials, tmp_path):
    """An app allowing two operations in flight per credential and 0.3 s of idleness, with one job's
    `created` event in its feed (so that a jobEvents subscription from 0 answers at once)."""
    auth = replace(settings.auth, ws_max_subscriptions_per_credential=2, ws_idle_seconds=0.3)
    caller = await start_app(replace(settings, auth=auth, run_jobs=False, run_schedules=False))
    dataset_id = await make_dataset(caller, tmp_path)
    pipeline = await (await caller.post("/api/v1/pipelines", json=example(dataset_id, {
        "path": str(tmp_path / "o.csv")}))).json()
    assert (await caller.post(f"/api/v1/pipelines/{pipeline['id']}/run")).status == 202
    return caller.http


async def subscribe(ws, operation_id: str, query: str = FEED) -> dict:
    """Start the feed (or `query`) on `ws`; its first message (`next` when admitted, `error` when refused)."""
    await ws.send_json({"id": operation_id, "type": "subscribe", "payload": {"query": query}})
    return await ws.receive_json(timeout=5)


async def test_a_credential_runs_at_most_its_number_of_operations_over_all_its_sockets(limited, credentials):
    # given two sockets of one key, with one subscription each in flight
    first, second = [await connect(limited, credentials["admin"]) for _ in range(2)]
    for ws in (first, second):
        assert (await ws.receive_json())["type"] == "connection_ack"
    assert (await subscribe(first, "a"))["type"] == "next"
    assert (await subscribe(second, "b"))["type"] == "next"
    # when a third starts, on either socket, and one of another key
    refused = await subscribe(second, "c")
    other = await connect(limited, credentials["other"])
    assert (await other.receive_json())["type"] == "connection_ack"
    others = await subscribe(other, "x", "{ __typename }")
    # then the third alone is refused, and the socket stays open for what it runs
    assert refused["type"] == "error" and refused["id"] == "c"
    assert refused["payload"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert others["type"] == "next"
    # and once one ends, its place is free again
    await first.send_json({"id": "a", "type": "complete"})
    await first.send_json({"type": "ping"})
    assert (await first.receive_json())["type"] == "pong"  # the complete was handled before the ping
    assert (await subscribe(second, "d"))["type"] == "next"
    for ws in (first, second, other):
        await ws.close()


async def test_a_socket_that_runs_nothing_and_says_nothing_is_closed_with_4408(limited, credentials):
    # given a socket that runs a subscription, and one that runs nothing
    busy = await connect(limited, credentials["admin"])
    assert (await busy.receive_json())["type"] == "connection_ack"
    assert (await subscribe(busy, "a"))["type"] == "next"
    idle = await connect(limited, credentials["admin"])
    assert (await idle.receive_json())["type"] == "connection_ack"
    # when the idle one waits for the server
    closing = await idle.receive()
    # then it is closed with 4408, and the busy one (quiet for as long) is still served
    assert closing.type in {aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED} and idle.close_code == 4408
    await busy.send_json({"type": "ping"})
    assert (await busy.receive_json())["type"] == "pong"
    await busy.close()
