"""Slow watchers of a job's log: one that falls behind by more than its queue is told so with its cursor and
its stream ends; the fast one beside it sees every line; the slow one resumes from its cursor with no gap.

The slow reader is a real client that stops reading its socket: the kernel's buffers fill up, then its
transport's, until the job's fan-out finds more unsent bytes there than its bound and gives it back as lagged
(a reader on the usual road instead fills its bounded queue until it overflows).
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import replace
from typing import Any

import orjson
import pytest

from server.engine.bus import job_topic
from server.engine.journal import Journal
from server.engine.service import EVENT_BUS
from server.models.engine import Job
from tests.rest.test_pipelines import example, make_dataset

QUEUE = 16
# Big lines fill the socket buffers of a reader that stopped reading after a few hundred of them; random, so
# that the websocket's compression does not shrink them.
LINE_BYTES = 24_000
MAX_LINES = 5_000
SUBSCRIBE = """subscription ($id: ID!, $after: Int!) {
  jobLogs(jobId: $id, after: $after) {
    __typename ... on JobLogLine { seq message } ... on JobFinished { job { status } }
  }
}"""


@pytest.fixture
async def running(start_app, settings, tmp_path):
    """An app with small subscriber queues that runs no jobs itself, and a job of it held `running`.

    The heartbeat is slow: a reader that does not read does not answer pings either, and would be closed.
    """
    auth = replace(settings.auth, ws_heartbeat_seconds=600.0)
    app = await start_app(replace(settings, run_jobs=False, run_schedules=False, subscriber_queue_size=QUEUE,
                                  auth=auth))
    dataset_id = await make_dataset(app, tmp_path)
    pipeline = await (await app.post("/api/v1/pipelines", json=example(dataset_id, {
        "path": str(tmp_path / "o.csv")}))).json()
    job = await (await app.post(f"/api/v1/pipelines/{pipeline['id']}/run")).json()
    await Job.filter(id=job["id"]).update(status="running")
    journal = Journal(job["id"], bus=app.app[EVENT_BUS])
    base = (await (await app.get(f"/api/v1/jobs/{job['id']}/logs")).json())["next_after"]
    return app, job["id"], journal, base


class Reader:
    """One follower of a job's log over one protocol; `next()` is ("line", seq), ("end", None) or
    ("lagged", cursor)."""

    def __init__(self, client: Any, protocol: str, job_id: str, compress: int = 0) -> None:
        self.client, self.protocol, self.job_id, self.compress = client, protocol, job_id, compress
        self.resp: Any = None
        self.ws: Any = None

    async def open(self, after: int) -> Reader:
        if self.protocol in {"sse", "ndjson"}:
            accept = "text/event-stream" if self.protocol == "sse" else "application/x-ndjson"
            self.resp = await self.client.get(f"/api/v1/jobs/{self.job_id}/logs?follow=true&after={after}",
                                              headers={"Accept": accept})
            assert self.resp.status == 200
            return self
        self.ws = await self.client.ws_connect("/graphql", protocols=[self.protocol], compress=self.compress)
        await self.ws.send_json({"type": "connection_init", "payload": {}})
        assert (await self.ws.receive_json())["type"] == "connection_ack"
        start = "subscribe" if self.protocol == "graphql-transport-ws" else "start"
        await self.ws.send_json({"id": "1", "type": start, "payload": {
            "query": SUBSCRIBE, "variables": {"id": self.job_id, "after": after}}})
        return self

    async def next(self) -> tuple[str, int | None]:
        if self.protocol == "ndjson":
            item = orjson.loads(await self.resp.content.readline())
            return {"log": ("line", item.get("seq")), "end": ("end", None)}.get(
                item["type"], ("lagged", item.get("cursor")))
        if self.protocol == "sse":
            while True:
                block = (await self.resp.content.readuntil(b"\n\n")).decode()
                fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line
                              and not line.startswith(":"))
                if "event" in fields:
                    kind = {"log": "line", "end": "end", "lagged": "lagged"}[fields["event"]]
                    return kind, int(fields["id"]) if "id" in fields else None
        while True:
            message = await self.ws.receive_json()
            if message["type"] in {"ka", "complete"}:
                continue
            payload = message.get("payload") or {}
            errors = payload.get("errors") if isinstance(payload, dict) else payload
            if errors:
                [error] = errors
                assert error["extensions"]["code"] == "SUBSCRIBER_LAGGED"
                return "lagged", error["extensions"]["cursor"]
            item = payload["data"]["jobLogs"]
            return ("line", item["seq"]) if item["__typename"] == "JobLogLine" else ("end", None)

    async def rest(self) -> list[tuple[str, int | None]]:
        """Every item up to and including the end or the lag notice."""
        got = []
        while not got or got[-1][0] == "line":
            got.append(await self.next())
        return got

    async def close(self) -> None:
        if self.resp is not None:
            self.resp.close()
        if self.ws is not None:
            await self.ws.close()


def fanout_size(client: Any, job_id: str) -> int:
    """How many followers the job's fan-out feeds now."""
    found = client.app[EVENT_BUS].shared.get(job_topic(job_id))
    return 0 if found is None else len(found)


async def all_fed(client: Any, job_id: str, readers: int) -> None:
    """Wait until `readers` followers are fed by the job's fan-out: a follower that sent its last stored line
    still looks at the store once more before it joins."""
    for _ in range(2_000):
        if fanout_size(client, job_id) == readers:
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"{fanout_size(client, job_id)} followers joined the fan-out, not {readers}")


def fell_behind(bus: Any, job_id: str, readers: int) -> bool:
    """Whether one of `readers` followers of the job was found too slow: its queue overflowed, or the job's
    fan-out gave it back."""
    topic = job_topic(job_id)
    fanout = bus.shared.get(topic)
    return any(getattr(receiver, "overflowed", False) for receiver in bus.subscriptions(topic)) \
        or (fanout is not None and len(fanout) < readers)


def seqs(items: list[tuple[str, int | None]]) -> list[int]:
    return [seq for kind, seq in items if kind == "line"]


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws", "sse", "ndjson"])
async def test_a_slow_reader_is_told_it_lagged_and_resumes_while_a_fast_one_sees_every_line(running, protocol):
    # given a fast and a slow reader of a running job, both live (each has read the first line)
    client, job_id, journal, base = running
    fast = await Reader(client, protocol, job_id).open(base)
    slow = await Reader(client, protocol, job_id).open(base)
    await journal.log("info", None, secrets.token_urlsafe(LINE_BYTES))
    fast_got = [await fast.next()]
    assert await slow.next() == ("line", base + 1)
    await all_fed(client, job_id, 2)
    # when lines keep coming while the slow one reads nothing, until its queue overflows
    bus, written = client.app[EVENT_BUS], 1
    while not fell_behind(bus, job_id, readers=2):
        assert written < MAX_LINES, "the slow reader never fell behind"
        await journal.log("info", None, secrets.token_urlsafe(LINE_BYTES))
        written += 1
        while len(seqs(fast_got)) < written:  # the fast reader keeps up with every line
            fast_got.append(await fast.next())
    for _ in range(3):
        await journal.log("info", None, secrets.token_urlsafe(LINE_BYTES))
        written += 1
    await journal.update_job(status="succeeded")
    fast_got += await fast.rest()
    slow_got = [("line", base + 1), *await slow.rest()]
    resumed = await Reader(client, protocol, job_id).open(slow_got[-1][1])
    resumed_got = await resumed.rest()
    # then the fast reader saw every line, in order, then the end
    everything = list(range(base + 1, base + written + 1))
    assert seqs(fast_got) == everything and fast_got[-1] == ("end", None)
    # and the slow one got a prefix with no gap, then its cursor (the last line it got), and resumed from there
    kind, cursor = slow_got[-1]
    assert kind == "lagged" and cursor == seqs(slow_got)[-1]
    assert seqs(slow_got) == everything[:len(seqs(slow_got))] and len(seqs(slow_got)) < written
    assert seqs(slow_got) + seqs(resumed_got) == everything and resumed_got[-1] == ("end", None)
    for reader in (fast, slow, resumed):
        await reader.close()
