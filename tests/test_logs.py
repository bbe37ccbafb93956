"""Logs are JSON lines and never carry a secret."""

from __future__ import annotations

import json
import logging
import sys

from aiohttp.http_exceptions import LineTooLong

from server.logs import ClientFaultsAtInfo, JsonFormatter, scrub
from tests.examples import dataset_body

CANARY = "canary-Pw-7731"


def test_scrub_masks_url_passwords_and_bearer_tokens():
    text = f"connect postgresql://user:{CANARY}@db:5432/x failed; header Authorization: Bearer abc.def-ghi"
    cleaned = scrub(text)
    assert CANARY not in cleaned and "abc.def-ghi" not in cleaned
    assert "postgresql://user:***@db:5432/x" in cleaned


def test_formatter_writes_one_json_object_with_request_fields():
    record = logging.LogRecord("docc.access", logging.INFO, __file__, 1, "GET /x 200", None, None)
    record.request_id, record.status = "req_1", 200
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert "\n" not in line
    assert entry["level"] == "INFO" and entry["request_id"] == "req_1" and entry["status"] == 200


async def test_dataset_password_never_reaches_a_log_line(client, caplog):
    # given
    caplog.set_level(logging.DEBUG)
    source = {"type": "database", "connection": f"postgresql://user:{CANARY}@host:5432/db", "table": "t"}
    # when
    created = await (await client.post("/api/v1/datasets", json=dataset_body(source=source))).json()
    await client.get(f"/api/v1/datasets/{created['id']}")
    await client.post("/api/v1/datasets", json=dataset_body(source=source))  # a refused duplicate
    # then
    formatter = JsonFormatter()
    assert all(CANARY not in formatter.format(record) for record in caplog.records)


async def test_graphiql_is_served_to_browsers(client):
    resp = await client.get("/graphql", headers={"Accept": "text/html"})
    assert resp.status == 200 and "graphiql" in (await resp.text()).lower()


def test_unparsable_requests_are_logged_at_info_without_a_traceback():
    # given: the record aiohttp writes for a request line past its limit
    try:
        raise LineTooLong(b"/x" * 10, "65536")
    except LineTooLong:
        record = logging.LogRecord("aiohttp.server", logging.ERROR, __file__, 1, "Error handling request from %s",
                                   ("127.0.0.1",), sys.exc_info())
    # when
    kept = ClientFaultsAtInfo().filter(record)
    # then
    assert kept and record.levelno == logging.INFO and record.exc_info is None
    assert "127.0.0.1" in record.getMessage() and "LineTooLong" in record.getMessage()


def test_other_server_errors_keep_their_level():
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord("aiohttp.server", logging.ERROR, __file__, 1, "Error", (), sys.exc_info())
    assert ClientFaultsAtInfo().filter(record) and record.levelno == logging.ERROR and record.exc_info
