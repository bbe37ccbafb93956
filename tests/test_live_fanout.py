"""One fan-out per followed job: live lines encoded once per wire form and written straight to every
follower's transport; gaps and the end send a follower to the store, a full transport makes it lagged, a
closed one drops it; a websocket operation's sink writes its protocol's message, and nothing once the
operation is over.

The first tests drive a fan-out with sinks that record what they are given; the last ones follow a job with
many real clients over both websocket protocols, Server-Sent Events and NDJSON.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from aiohttp import web

from resolvers.job_fanout import CannotEncode, JobFanout, follow_through
from resolvers.views.jobs import LogLineView
from schema.execution import SharedData
from server.engine.bus import Event, EventBus, job_topic
from server.engine.journal import Journal
from server.engine.service import EVENT_BUS
from server.models.engine import Job
from server.websockets import SocketLines, TrackedWebSocket
from tests.rest.test_pipelines import example, make_dataset
from tests.test_live_slow_watchers import SUBSCRIBE, Reader, all_fed, fanout_size, seqs

JOB = "job_0123456789abcdef"
PROTOCOLS = ["graphql-transport-ws", "graphql-ws", "sse", "ndjson"]


def line_event(seq: int, level: str = "info", with_text: bool = True) -> Event:
    data: dict[str, Any] = {"job_id": JOB, "seq": seq, "level": level, "step_id": None,
                            "time": datetime(2026, 12, 1, 10, 0, seq % 60, tzinfo=UTC).isoformat()}
    if with_text:
        data["message"] = f"line {seq}"
    return Event(job_topic(JOB), "log", data)


class Sink:
    """A transport that records what it is given; `backlog` is what it says waits unsent."""

    def __init__(self, key: Any = "ndjson", fail_on: int | None = None) -> None:
        self.key, self.fail_on = key, fail_on
        self.writes: list[bytes] = []
        self.backlog, self.closed = 0, False

    def encode(self, lines: list[LogLineView]) -> bytes:
        if self.fail_on is not None and any(line.seq == self.fail_on for line in lines):
            raise CannotEncode(self.fail_on)
        return b"".join(b"%d;" % line.seq for line in lines)

    def write(self, data: bytes) -> None:
        if self.closed:
            raise ConnectionResetError("closed")
        self.writes.append(data)

    def buffered(self) -> int:
        return self.backlog

    def closing(self) -> bool:
        return self.closed

    def seqs(self) -> list[int]:
        return [int(part) for data in self.writes for part in data.decode().split(";") if part]


def joined(bus: EventBus, sink: Sink, cursor: int = 0, wanted: tuple[str, ...] | None = None,
           limit: int = 1_000) -> Any:
    subscription = bus.subscribe(job_topic(JOB))
    return JobFanout.of(bus, JOB).join(sink, subscription, cursor, wanted, limit)


async def test_followers_with_the_same_wire_form_get_the_same_bytes_once_per_batch():
    # given three followers at seq 10 in one format, one in another, and one that keeps errors only
    bus = EventBus()
    same = [Sink() for _ in range(3)]
    other, errors = Sink(key="sse"), Sink()
    members = [joined(bus, sink, 10) for sink in same] + [joined(bus, other, 10),
                                                          joined(bus, errors, 10, wanted=("error",))]
    # when a burst of lines is published in one turn and the fan-out writes it
    for seq, level in ((11, "info"), (12, "error"), (13, "info")):
        bus.deliver_local(line_event(seq, level))
    JobFanout.of(bus, JOB).flush()
    # then each follower got the burst in one write, the first three the very same bytes object
    assert [sink.writes for sink in same] == [[b"11;12;13;"]] * 3
    assert same[0].writes[0] is same[1].writes[0] is same[2].writes[0]
    assert other.writes == [b"11;12;13;"] and other.writes[0] is not same[0].writes[0]
    # and the filtered one only its level, with its cursor past every line all the same
    assert errors.writes == [b"12;"]
    assert [member.cursor for member in members] == [13] * 5 and not any(m.done.done() for m in members)


async def test_what_waited_in_the_followers_queue_is_written_at_join_and_never_twice():
    # given a follower whose own subscription got lines 11 and 12 while it read the store up to 10, and a
    # fan-out that has line 12 waiting as well
    bus = EventBus()
    fanout = JobFanout.of(bus, JOB)
    subscription = bus.subscribe(job_topic(JOB))
    bus.deliver_local(line_event(11))
    bus.deliver_local(line_event(12))
    sink = Sink()
    # when it joins, and the fan-out then writes 12 and 13
    member = fanout.join(sink, subscription, 10, None, 1_000)
    bus.deliver_local(line_event(13))
    fanout.flush()
    # then it got 11, 12 and 13 once each, in order, and its own subscription is closed
    assert sink.seqs() == [11, 12, 13] and member.cursor == 13
    assert subscription not in bus.subscriptions(job_topic(JOB))


@pytest.mark.parametrize("trouble", ["gap", "no_text", "end"])
async def test_a_gap_or_the_end_sends_the_followers_to_the_store_after_what_came_before(trouble):
    # given a follower at 10
    bus = EventBus()
    sink = Sink()
    member = joined(bus, sink, 10)
    # when line 11 comes, then a gap (13), a line without its text (12), or the job's end
    bus.deliver_local(line_event(11))
    bus.deliver_local({"gap": line_event(13), "no_text": line_event(12, with_text=False),
                       "end": Event(job_topic(JOB), "status", {"status": "succeeded", "finished": True})}[trouble])
    bus.deliver_local(line_event(14))
    JobFanout.of(bus, JOB).flush()
    # then it got 11, and was given back to read the store from 11
    assert sink.seqs() == [11]
    assert member.done.result() == "store" and member.cursor == 11


async def test_a_follower_with_too_much_unsent_is_lagged_at_its_last_line_and_the_others_go_on():
    # given two followers, one of them with more unsent bytes than its bound after line 11
    bus = EventBus()
    fast, slow = Sink(), Sink()
    fast_member, slow_member = joined(bus, fast, 10), joined(bus, slow, 10, limit=100)
    fanout = JobFanout.of(bus, JOB)
    bus.deliver_local(line_event(11))
    fanout.flush()
    slow.backlog = 101
    # when more lines come
    for seq in (12, 13):
        bus.deliver_local(line_event(seq))
    fanout.flush()
    # then the slow one is given back lagged at 11, the last line it was given, and the fast one got them all
    assert slow_member.done.result() == "lagged" and slow_member.cursor == 11 and slow.seqs() == [11]
    assert fast.seqs() == [11, 12, 13] and not fast_member.done.done()
    assert fanout.followers() == (fast_member,)


async def test_a_closed_transport_is_dropped_and_the_last_one_out_drops_the_fanout():
    # given two followers
    bus = EventBus()
    gone, stays = Sink(), Sink()
    gone_member, stays_member = joined(bus, gone, 10), joined(bus, stays, 10)
    fanout = JobFanout.of(bus, JOB)
    # when one's transport closes and a line comes
    gone.closed = True
    bus.deliver_local(line_event(11))
    fanout.flush()
    # then it is given back as closed, the other got the line
    assert gone_member.done.result() == "closed" and gone.writes == []
    assert stays.seqs() == [11]
    # and when the other leaves, nothing of the fan-out is left on the bus
    fanout.leave(stays_member)
    assert stays_member.done.result() == "closed"
    assert bus.shared == {} and bus.subscriptions(job_topic(JOB)) == ()


async def test_a_line_the_wire_cannot_encode_sends_its_follower_to_the_usual_road():
    # given a follower whose wire form cannot write line 12
    bus = EventBus()
    sink = Sink(fail_on=12)
    member = joined(bus, sink, 10)
    # when lines 11 and 12 come together
    bus.deliver_local(line_event(11))
    bus.deliver_local(line_event(12))
    JobFanout.of(bus, JOB).flush()
    # then nothing of the batch was written and it goes on from 10 the usual way
    assert sink.writes == [] and member.done.result() == "slow_path" and member.cursor == 10


async def test_follow_through_waits_for_the_fanout_to_give_the_follower_back():
    # given a follower handed to the fan-out
    bus = EventBus()
    sink = Sink()
    task = asyncio.ensure_future(follow_through(bus, JOB, sink, bus.subscribe(job_topic(JOB)), 10, None))
    await asyncio.sleep(0)
    # when a line and then the job's end come, each flushed in its own loop turn
    bus.deliver_local(line_event(11))
    bus.deliver_local(Event(job_topic(JOB), "status", {"status": "succeeded", "finished": True}))
    # then it comes back to read the store after line 11, and the fan-out is gone
    assert await task == ("store", 11)
    assert sink.seqs() == [11] and bus.shared == {}


# Real clients.

@pytest.fixture
async def running(start_app, settings, tmp_path):
    """An app that runs no jobs itself, and a job of it held `running` (the heartbeat slow, so that a reader
    that is not read for a while is not closed for that)."""
    app = await start_app(replace(settings, run_jobs=False, run_schedules=False,
                                  auth=replace(settings.auth, ws_heartbeat_seconds=600.0)))
    dataset_id = await make_dataset(app, tmp_path)
    pipeline = await (await app.post("/api/v1/pipelines", json=example(dataset_id, {
        "path": str(tmp_path / "o.csv")}))).json()
    job = await (await app.post(f"/api/v1/pipelines/{pipeline['id']}/run")).json()
    await Job.filter(id=job["id"]).update(status="running")
    journal = Journal(job["id"], bus=app.app[EVENT_BUS])
    base = (await (await app.get(f"/api/v1/jobs/{job['id']}/logs")).json())["next_after"]
    return app, job["id"], journal, base


async def test_many_followers_over_every_protocol_see_every_line_once_and_in_order(running):
    # given five followers over each protocol, and two over compressed websockets (which keep the usual
    # road), all live (each has read the first line)
    client, job_id, journal, base = running
    readers = [await Reader(client, protocol, job_id).open(base) for protocol in PROTOCOLS for _ in range(5)]
    compressed = [await Reader(client, protocol, job_id, compress=15).open(base)
                  for protocol in ("graphql-transport-ws", "graphql-ws")]
    await journal.log("info", None, "first")
    got = [[await reader.next()] for reader in readers]
    await all_fed(client, job_id, len(readers))  # the uncompressed ones are fed by the job's fan-out
    readers += compressed
    got += [[await reader.next()] for reader in compressed]
    # when the job writes lines in bursts, then ends
    for burst in range(20):
        for number in range(burst % 4 + 1):
            await journal.log("warning" if number % 2 else "info", None, f"burst {burst} line {number}")
        await asyncio.sleep(0)
    written = 1 + sum(burst % 4 + 1 for burst in range(20))
    await journal.update_job(status="succeeded")
    for items, reader in zip(got, readers, strict=True):
        items += await reader.rest()
    # then every follower saw every line once, in order, then the end
    everything = list(range(base + 1, base + written + 1))
    for items in got:
        assert seqs(items) == everything and items[-1] == ("end", None)
    for reader in readers:
        await reader.close()
    assert client.app[EVENT_BUS].shared == {}


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_follower_that_disconnects_mid_stream_is_dropped_and_the_others_go_on(running, protocol):
    # given two followers of the same kind, both live
    client, job_id, journal, base = running
    leaving, staying = [await Reader(client, protocol, job_id).open(base) for _ in range(2)]
    await journal.log("info", None, "first")
    assert await leaving.next() == await staying.next() == ("line", base + 1)
    await all_fed(client, job_id, 2)
    # when one disconnects and lines keep coming
    await leaving.close()
    written, stayed = 1, [("line", base + 1)]
    while fanout_size(client, job_id) != 1:
        assert written < 200, "the closed follower was never dropped"
        await journal.log("info", None, f"line {written}")
        written += 1
        stayed.append(await staying.next())
    await journal.update_job(status="succeeded")
    stayed += await staying.rest()
    # then the one that stayed saw every line and the end, and nothing of the fan-out is left
    assert seqs(stayed) == list(range(base + 1, base + written + 1)) and stayed[-1] == ("end", None)
    await staying.close()
    assert client.app[EVENT_BUS].shared == {}


async def test_an_operation_completed_and_started_again_under_the_same_id_gets_each_line_once(running):
    # given a graphql-transport-ws subscription "1" fed by the fan-out
    client, job_id, journal, base = running
    reader = await Reader(client, "graphql-transport-ws", job_id).open(base)
    await journal.log("info", None, "first")
    assert await reader.next() == ("line", base + 1)
    await all_fed(client, job_id, 1)
    # when the client completes it and subscribes again at once under the same id, from its cursor, while
    # the job writes
    await journal.log("info", None, "second")
    await reader.ws.send_json({"id": "1", "type": "complete"})
    await reader.ws.send_json({"id": "1", "type": "subscribe", "payload": {
        "query": SUBSCRIBE, "variables": {"id": job_id, "after": base + 1}}})
    for number in range(3, 8):
        await journal.log("info", None, f"line {number}")
    await journal.update_job(status="succeeded")
    got = await reader.rest()
    # then it saw line 2 at most twice (once from each operation, as the client asked for it again), and
    # every later line exactly once, in order, then the end
    later = [seq for seq in seqs(got) if seq > base + 2]
    assert later == list(range(base + 3, base + 8)) and got[-1] == ("end", None)
    assert 1 <= seqs(got).count(base + 2) <= 2
    await reader.close()


async def test_a_socket_sink_writes_the_protocol_message_and_nothing_once_its_operation_is_over(aiohttp_client):
    # given a server socket whose operation "op-1" runs until `running` is cleared
    running_now, outcome = [True], {}

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = TrackedWebSocket()
        await ws.prepare(request)
        sink = SocketLines.of(SimpleNamespace(ws=ws), "next", "op-1", lambda: running_now[0], "selection",
                              lambda line: SharedData({"jobLogs": {"seq": line.seq, "message": line.message}}))
        lines = [LogLineView(seq, datetime(2026, 12, 1, tzinfo=UTC), "info", None, f"é {seq}") for seq in (1, 2)]
        # when it writes two lines, then the operation ends and it is asked to write another
        sink.write(sink.encode(lines))
        running_now[0] = False
        outcome["closing"] = sink.closing()
        try:
            sink.write(sink.encode(lines[:1]))
            outcome["late"] = "written"
        except ConnectionError:
            outcome["late"] = "refused"
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    client = await aiohttp_client(app)
    async with client.ws_connect("/ws") as ws:
        messages = [orjson.loads(message.data) async for message in ws]
    # then the client got the two protocol messages, whole, and nothing after the operation ended
    assert messages == [{"id": "op-1", "type": "next",
                         "payload": {"data": {"jobLogs": {"seq": seq, "message": f"é {seq}"}}}} for seq in (1, 2)]
    assert outcome == {"closing": True, "late": "refused"}
