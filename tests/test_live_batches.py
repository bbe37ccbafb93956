"""Live lines in batches: every line waiting for a follower goes out at once, in order, each line made and
encoded once for all its followers; a websocket sends the messages of one loop turn in one write."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import orjson
import pytest
from aiohttp import WSMsgType, web

from resolvers.job_streams import _live_lines
from resolvers.views.jobs import LogLineView
from schema.execution import SharedData
from server.engine.bus import Event, EventBus, job_topic
from server.rest.jobs import log_json
from server.rest.log_streams import EVENT_STREAM, NDJSON, LogWriter
from server.websockets import TrackedWebSocket, encode_message

JOB = "job_0123456789abcdef"


def line_event(seq: int, level: str = "info", message: str | None = None) -> Event:
    data = {"job_id": JOB, "seq": seq, "time": datetime(2026, 12, 1, 10, 0, seq % 60, tzinfo=UTC).isoformat(),
            "level": level, "step_id": "clean", "message": message if message is not None else f"line {seq}"}
    return Event(job_topic(JOB), "log", data)


async def collect(subscription, cursor: int, batches: int) -> list[list[LogLineView]]:
    found = []
    async for batch in _live_lines(subscription, cursor):
        found.append(batch)
        if len(found) == batches:
            break
    return found


async def test_lines_waiting_together_come_as_one_batch_in_order_shared_by_every_follower():
    # given two followers at seq 10 and a burst of five lines published before either reads
    bus = EventBus()
    one, two = bus.subscribe(job_topic(JOB)), bus.subscribe(job_topic(JOB))
    for seq in range(11, 16):
        bus.deliver_local(line_event(seq))
    # when each reads what waits for it
    [first] = await collect(one, 10, 1)
    [second] = await collect(two, 10, 1)
    # then each gets the five lines in one batch, in order, as the same objects
    assert [line.seq for line in first] == [11, 12, 13, 14, 15]
    assert [line.message for line in first] == [f"line {seq}" for seq in range(11, 16)]
    assert all(a is b for a, b in zip(first, second, strict=True))


async def test_a_gap_inside_a_burst_delivers_the_lines_before_it_then_sends_the_reader_to_the_store():
    # given lines 11, 12, then 14 (13 was dropped on the way), then 15
    bus = EventBus()
    subscription = bus.subscribe(job_topic(JOB))
    for seq in (11, 12, 14, 15):
        bus.deliver_local(line_event(seq))
    # when the reader takes them
    batches = [batch async for batch in _live_lines(subscription, 10)]
    # then it got 11 and 12 only, and its stream returned (the caller reads 13 onwards from the store)
    assert [[line.seq for line in batch] for batch in batches] == [[11, 12]]


async def test_a_reader_already_past_some_lines_skips_them_and_an_end_closes_the_batch():
    # given lines 9 to 12 and the job's end, and a reader at 10
    bus = EventBus()
    subscription = bus.subscribe(job_topic(JOB))
    for seq in (9, 10, 11, 12):
        bus.deliver_local(line_event(seq))
    bus.deliver_local(Event(job_topic(JOB), "status", {"job_id": JOB, "status": "succeeded", "finished": True}))
    bus.deliver_local(line_event(13))
    # when it reads
    batches = [batch async for batch in _live_lines(subscription, 10)]
    # then it got 11 and 12, and the end sent it to the store (where 13 and the final state are)
    assert [[line.seq for line in batch] for batch in batches] == [[11, 12]]


async def test_lines_are_written_as_each_one_alone_would_be_and_encoded_once_per_format():
    # given two live lines shared by followers in each format
    bus = EventBus()
    subscription = bus.subscribe(job_topic(JOB))
    bus.deliver_local(line_event(1, message='quote " and newline \\n'))
    bus.deliver_local(line_event(2, level="error"))
    [lines] = await collect(subscription, 0, 1)
    for events, media in ((True, EVENT_STREAM), (False, NDJSON)):
        writer = LogWriter(events)
        # when two followers write the batch
        first, second = writer.lines(lines, log_json), LogWriter(events).lines(lines, log_json)
        # then both chunks are the lines one after the other, as written one by one, from one encoding a line
        assert first == second == b"".join(writer.line(line.seq, log_json(line)) for line in lines)
        assert [line.memo[media] for line in lines] == [writer.line(line.seq, log_json(line)) for line in lines]
    assert orjson.loads(LogWriter(False).lines(lines[:1], log_json))["message"] == 'quote " and newline \\n'


def test_a_shared_result_is_encoded_as_the_whole_message_would_be():
    # given the shared data of one line in a message of each protocol
    data = SharedData({"jobLogs": {"__typename": "JobLogLine", "seq": 7, "message": "é \"x\""}})
    messages = [{"id": "op-1", "type": "next", "payload": {"data": data}},
                {"type": "data", "id": "2", "payload": {"data": data}}]
    # when each is encoded
    encoded = [encode_message(message) for message in messages]
    # then each decodes to the message itself, and the data was encoded once
    assert [orjson.loads(raw) for raw in encoded] == [orjson.loads(orjson.dumps(m)) for m in messages]
    assert data.encoded == orjson.dumps(dict(data))
    assert orjson.loads(encode_message({"type": "next", "id": "3", "payload": {"data": {"n": 1 << 70}}})) \
        == {"type": "next", "id": "3", "payload": {"data": {"n": 1 << 70}}}


@pytest.mark.parametrize("compress", [0, 15], ids=["plain", "deflate"])
async def test_messages_sent_in_one_turn_leave_in_one_write_and_arrive_in_order(aiohttp_client, compress):
    # given a server socket that sends messages of every frame size in one turn, then closes (a client that
    # asks for compression gets each message through aiohttp's own writer)
    sizes = [5, 125, 126, 300, 65_535, 65_536, 70_000] + [20] * 40
    writes: list[int] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = TrackedWebSocket()
        await ws.prepare(request)
        transport = ws._writer.transport
        real_write = transport.write
        transport.write = lambda data: (writes.append(len(data)), real_write(data))[1]
        for number, size in enumerate(sizes):
            body = orjson.dumps({"n": number, "pad": "x" * size})
            await ws.send_text(body)
        await ws.close(code=4000, message=b"done")
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    client = await aiohttp_client(app)
    # when a client reads everything
    received = []
    async with client.ws_connect("/ws", compress=compress) as ws:
        async for message in ws:
            assert message.type == WSMsgType.TEXT
            received.append(orjson.loads(message.data))
        code = ws.close_code
    # then every message came whole and in order, then the close; the small ones shared writes
    assert [(body["n"], len(body["pad"])) for body in received] == list(enumerate(sizes))
    assert code == 4000
    if not compress:
        assert len(writes) < len(sizes)


async def test_a_closed_socket_refuses_to_send(aiohttp_client):
    # given a socket the server closed
    outcome: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = TrackedWebSocket(compress=False)
        await ws.prepare(request)
        await ws.close()
        try:
            await ws.send_text(b'{"late":true}')
            outcome.set_result("sent")
        except Exception as exc:
            outcome.set_result(type(exc).__name__)
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    client = await aiohttp_client(app)
    # when the client connects and reads until the close
    async with client.ws_connect("/ws") as ws:
        messages = [message async for message in ws]
    # then nothing came after the close, and the late send was refused as a reset connection
    assert messages == []
    assert await outcome == "ClientConnectionResetError"


async def test_a_follower_of_a_busy_job_still_gets_every_line_once_and_in_order():
    # given a follower that just took a line (so the next ones find it busy and it lingers)
    bus = EventBus()
    subscription = bus.subscribe(job_topic(JOB))
    bus.deliver_local(line_event(1))
    stream = _live_lines(subscription, 0)
    first = await anext(stream)
    # when more lines come, some while it lingers
    later = asyncio.ensure_future(anext(stream))
    for seq in (2, 3):
        bus.deliver_local(line_event(seq))
    await asyncio.sleep(0)
    for seq in (4, 5):
        bus.deliver_local(line_event(seq))
    second = await later
    await stream.aclose()
    # then every line came once, in order
    assert [line.seq for line in first + second] == [1, 2, 3, 4, 5]
