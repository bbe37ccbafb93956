"""The access line's cheaper parts: its time field, request ids the server makes, and masking a caller's id."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from datetime import UTC, datetime

import orjson

from server.edge.context import _REQUEST_IDS
from server.logs import JsonFormatter, JsonLinesHandler, configure_logging, fast_sink, json_line

JWT_LIKE = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJrZXk6YWJjIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"


def access_record(created: float, request_id: str) -> logging.LogRecord:
    record = logging.LogRecord("docc.access", logging.INFO, __file__, 0, "GET /api/v1/datasets 200", None, None)
    record.created, record.request_id, record.status = created, request_id, 200
    return record


def test_the_time_field_reads_as_the_standard_librarys_format():
    # given: instants at and around millisecond and second boundaries
    instants = [1796621444.0, 1796621444.0005, 1796621444.0004999, 1796621444.9995, 1796621444.9999996,
                1768032106.4649994, 1795135954.8959994, 1796621444.123]
    formatter = JsonFormatter()
    for instant in instants:
        # when
        line = json.loads(formatter.format(access_record(instant, "req_0123456789abcdef01234567")))
        # then
        assert line["time"] == datetime.fromtimestamp(instant, UTC).isoformat(timespec="milliseconds"), instant


def test_new_request_ids_are_unique_and_of_one_shape():
    # when
    made = [_REQUEST_IDS.new() for _ in range(10_000)]
    # then
    assert len(set(made)) == len(made)
    assert all(re.fullmatch(r"req_[0-9a-f]{24}", made_id) for made_id in made)


def test_a_callers_request_id_is_masked_and_the_servers_own_is_written_as_it_is():
    # given
    formatter = JsonFormatter()
    own = _REQUEST_IDS.new()
    # when
    theirs = json.loads(formatter.format(access_record(1796621444.0, JWT_LIKE)))
    ours = json.loads(formatter.format(access_record(1796621444.0, own)))
    # then
    assert JWT_LIKE not in json.dumps(theirs)
    assert ours["request_id"] == own


async def test_every_request_writes_one_access_record(client, caplog):
    # given
    caplog.set_level(logging.INFO, logger="docc.access")
    # when
    listed = await client.get("/api/v1/datasets")
    missing = await client.get("/api/v1/datasets/ds_00000000000000000000")
    # then
    lines = [record for record in caplog.records if record.name == "docc.access"]
    assert [(line.method, line.route, line.status) for line in lines] == [
        ("GET", "/api/v1/datasets", 200), ("GET", "/api/v1/datasets/{id}", 404)]
    assert [line.request_id for line in lines] == [listed.headers["X-Request-ID"], missing.headers["X-Request-ID"]]
    assert all(isinstance(line.duration_ms, float) for line in lines)


def test_the_fast_access_line_is_byte_for_byte_the_records_line():
    # given: the fields of one request
    fields = {"request_id": JWT_LIKE, "method": "GET", "path": "/api/v1/datasets", "status": 200,
              "route": "/api/v1/datasets", "duration_ms": 1.25}
    record = logging.LogRecord("docc.access", logging.INFO, __file__, 0, "GET /api/v1/datasets 200", None, None)
    record.__dict__.update(fields)
    # when: formatted as a record, and straight from the fields at the record's time
    through_record = JsonFormatter().format(record)
    direct = orjson.dumps(json_line(record.created, "INFO", "docc.access", "GET /api/v1/datasets 200", fields))
    # then
    assert direct.decode() == through_record


def test_the_fast_path_is_taken_only_with_the_servers_own_configuration():
    root, access = logging.getLogger(), logging.getLogger("docc.access")
    saved = root.handlers[:], root.level, access.disabled
    try:
        configure_logging("INFO")
        assert isinstance(fast_sink(access), JsonLinesHandler)
        # another handler beside it, a filter, or INFO switched off: the record path
        root.addHandler(logging.NullHandler())
        assert fast_sink(access) is None
        root.handlers.pop()
        access.addFilter(logging.Filter("nothing"))
        assert fast_sink(access) is None
        access.filters.clear()
        root.setLevel(logging.WARNING)
        assert fast_sink(access) is None
    finally:
        root.handlers[:], access.disabled = saved[0], saved[2]
        root.setLevel(saved[1])


async def test_lines_of_one_loop_turn_leave_in_one_write_and_warnings_at_once():
    # given
    stream = CountingStream()
    handler = JsonLinesHandler(stream)
    # when: three lines in one turn
    for n in range(3):
        handler.write_line(f"line {n}")
    # then: nothing written yet; after the turn, all three in order in one write
    assert stream.writes == []
    await asyncio.sleep(0)
    assert stream.writes == ["line 0\nline 1\nline 2\n"]
    # when: a line, then a warning in the same turn
    handler.write_line("line 3")
    handler.write_line("warned", urgent=True)
    # then: the warning leaves at once, after what waited
    assert stream.writes[-1] == "line 3\nwarned\n"
    await asyncio.sleep(0)
    assert len(stream.writes) == 2


def test_without_a_loop_each_line_is_written_at_once_and_flush_writes_what_waits():
    stream = CountingStream()
    handler = JsonLinesHandler(stream)
    handler.write_line("alone")
    assert stream.writes == ["alone\n"]
    handler._waiting.append("left")  # as a loop gone before its turn ended would leave it
    handler.flush()
    assert stream.writes == ["alone\n", "left\n"]


async def test_a_line_waiting_from_a_loop_that_is_gone_is_written_by_the_next_loop():
    stream = CountingStream()
    handler = JsonLinesHandler(stream)
    gone = asyncio.new_event_loop()  # a loop that was asked to write, and closed before its turn ended
    handler._waiting.append("from before")
    handler._turn = gone
    gone.close()
    # when: a line in this loop
    handler.write_line("now")
    await asyncio.sleep(0)
    # then
    assert stream.writes == ["from before\nnow\n"]


def test_a_forked_child_writes_at_once_and_never_its_parents_waiting_lines(tmp_path):
    # given: a line waiting in the parent when it forks
    path = tmp_path / "log"
    with path.open("w") as stream:
        handler = JsonLinesHandler(stream)
        handler._waiting.append("parent's")
        pid = os.fork()
        if pid == 0:  # the child: one line, then leave without any clean-up
            try:
                asyncio.run(_child_line(handler))
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        # then: the child's line is there, the parent's not twice
        handler.flush()
    assert path.read_text().splitlines() == ["child's", "parent's"]


async def _child_line(handler: JsonLinesHandler) -> None:
    handler.write_line("child's")


class CountingStream:
    def __init__(self) -> None:
        self.writes: list[str] = []

    def write(self, text: str) -> None:
        self.writes.append(text)

    def flush(self) -> None:
        pass
