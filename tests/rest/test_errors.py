"""Every failure answers with the reference's envelope, the right status and the request id."""

from __future__ import annotations

import json
import logging

from resolvers import datasets
from tests.examples import CREATE_DATASET


def assert_envelope(body: dict, code: str, request_id: str) -> None:
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details", "request_id"}
    assert body["error"]["code"] == code
    assert body["error"]["request_id"] == request_id


async def test_unknown_route(client):
    resp = await client.get("/api/v1/nothing-here")
    assert resp.status == 404
    assert_envelope(await resp.json(), "NOT_FOUND", resp.headers["X-Request-ID"])


async def test_wrong_method(client):
    resp = await client.patch("/api/v1/datasets")
    assert resp.status == 405
    body = await resp.json()
    assert_envelope(body, "METHOD_NOT_ALLOWED", resp.headers["X-Request-ID"])
    assert "POST" in body["error"]["details"]["allowed_methods"]
    assert "POST" in resp.headers["Allow"]


async def test_malformed_json(client):
    resp = await client.post("/api/v1/datasets", data=b'{"name": ', headers={"Content-Type": "application/json"})
    assert resp.status == 400
    assert_envelope(await resp.json(), "INVALID_JSON", resp.headers["X-Request-ID"])


async def test_json_that_is_not_an_object(client):
    resp = await client.post("/api/v1/datasets", json=[1, 2])
    assert resp.status == 400
    assert_envelope(await resp.json(), "VALIDATION_ERROR", resp.headers["X-Request-ID"])


async def test_unsupported_content_type(client):
    resp = await client.post("/api/v1/datasets", data="name=x", headers={"Content-Type": "text/plain"})
    assert resp.status == 415
    assert_envelope(await resp.json(), "UNSUPPORTED_MEDIA_TYPE", resp.headers["X-Request-ID"])


async def test_oversized_body(client):
    big = {**CREATE_DATASET, "description": "x" * 2_000_000}
    resp = await client.post("/api/v1/datasets", data=json.dumps(big), headers={"Content-Type": "application/json"})
    assert resp.status == 413
    assert_envelope(await resp.json(), "PAYLOAD_TOO_LARGE", resp.headers["X-Request-ID"])


async def test_caller_request_id_is_echoed_and_logged(client, caplog):
    # given
    caplog.set_level(logging.INFO, logger="docc.access")
    # when
    resp = await client.get("/api/v1/datasets/ds_nope", headers={"X-Request-ID": "trace-42"})
    # then
    assert resp.headers["X-Request-ID"] == "trace-42"
    assert (await resp.json())["error"]["request_id"] == "trace-42"
    lines = [r for r in caplog.records if getattr(r, "request_id", None) == "trace-42"]
    assert lines and lines[0].status == 404 and lines[0].route == "/api/v1/datasets/{id}"


async def test_unsafe_request_id_is_replaced(client):
    resp = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert resp.headers["X-Request-ID"].startswith("req_")


async def test_unexpected_error_hides_its_internals(client, monkeypatch, caplog):
    # given: a resolver that fails the way a broken database driver would
    async def broken(*_args, **_kwargs):
        raise RuntimeError("SELECT password FROM secrets -- postgresql://u:hunter2@db/x")

    monkeypatch.setattr(datasets, "list_datasets", broken)
    # when
    resp = await client.get("/api/v1/datasets")
    # then
    assert resp.status == 500
    text = await resp.text()
    assert_envelope(json.loads(text), "INTERNAL_ERROR", resp.headers["X-Request-ID"])
    assert "SELECT" not in text and "hunter2" not in text and "Traceback" not in text
    assert any(r.levelname == "ERROR" for r in caplog.records)


async def test_health_and_readiness(client, monkeypatch):
    # given
    assert (await client.get("/healthz")).status == 200
    assert (await (await client.get("/readyz")).json())["database"] == "up"
    # when: the database stops answering
    from tortoise import connections

    async def down(*_args, **_kwargs):
        raise OSError("connection refused")

    monkeypatch.setattr(connections.get("default"), "execute_query", down)
    # then
    resp = await client.get("/readyz")
    assert resp.status == 503
    assert (await client.get("/healthz")).status == 200
