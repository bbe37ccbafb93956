"""The access line's cheaper parts: its time field, request ids the server makes, and masking a caller's id."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

from server.edge.context import _REQUEST_IDS
from server.logs import JsonFormatter

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
