"""Every failure answers with the reference's envelope, the right status and the request id."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from resolvers import datasets
from tests.examples import CREATE_DATASET, dataset_body


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


# Hostile input: each answers a 4xx in the envelope, never a 5xx.

LONG_ID = "ds_" + "a" * 60
ID_ROUTES = [
    ("GET", "/api/v1/datasets/{id}"), ("PUT", "/api/v1/datasets/{id}"), ("DELETE", "/api/v1/datasets/{id}"),
    ("GET", "/api/v1/datasets/{id}/schema"), ("GET", "/api/v1/datasets/{id}/schema/history"),
    ("GET", "/api/v1/pipelines/{id}"), ("DELETE", "/api/v1/pipelines/{id}"), ("POST", "/api/v1/pipelines/{id}/run"),
    ("GET", "/api/v1/pipelines/{id}/versions"), ("POST", "/api/v1/pipelines/{id}/schedule/pause"),
    ("GET", "/api/v1/jobs/{id}"), ("POST", "/api/v1/jobs/{id}/cancel"), ("GET", "/api/v1/jobs/{id}/logs"),
    ("GET", "/api/v1/jobs/{id}/logs?follow=true"),
    ("GET", "/api/v1/workspaces/{id}"), ("GET", "/api/v1/workspaces/{id}/keys"),
    ("DELETE", "/api/v1/workspaces/ws_default/keys/{id}"),
    ("DELETE", "/api/v1/workspaces/ws_default/oauth-clients/{id}"),
]


async def test_overlong_and_malformed_ids_are_not_found_on_every_id_route(client):
    for method, template in ID_ROUTES:
        for bad in (LONG_ID, "x" * 5000, "ds_%00nul", "ds_%E2%9C%93", "ds_'or'1'='1"):
            # when
            resp = await client.request(method, template.replace("{id}", bad), json={"name": "x"})
            # then: the same answer as for an id that does not exist
            assert resp.status == 404, (method, template, bad, await resp.text())
            assert_envelope(await resp.json(), "NOT_FOUND", resp.headers["X-Request-ID"])


async def test_malformed_id_gets_the_same_body_as_a_missing_one(client):
    missing = await (await client.get("/api/v1/datasets/ds_nope")).json()
    malformed = await (await client.get(f"/api/v1/datasets/{LONG_ID}")).json()
    assert malformed["error"]["code"] == missing["error"]["code"] == "NOT_FOUND"
    assert malformed["error"]["details"] == {"resource": "dataset", "id": LONG_ID}


async def test_integers_beyond_bounds_are_validation_errors(client):
    huge = "9" * 30
    for path in (f"/api/v1/datasets?page={huge}", f"/api/v1/datasets?offset={huge}",
                 f"/api/v1/datasets?per_page={huge}", f"/api/v1/datasets?limit={huge}",
                 "/api/v1/datasets?page=9223372036854775808", "/api/v1/jobs?offset=99999999999",
                 "/api/v1/pipelines?page=-1", "/api/v1/datasets?page=1_0", "/api/v1/datasets?page=%C2%B2",
                 f"/api/v1/jobs/job_x/logs?after={huge}", f"/api/v1/jobs/job_x/logs?tail={huge}",
                 "/api/v1/jobs/job_x/logs?after=%C2%B2"):
        resp = await client.get(path)
        assert resp.status == 400, (path, await resp.text())
        body = await resp.json()
        assert_envelope(body, "VALIDATION_ERROR", resp.headers["X-Request-ID"])


async def test_largest_accepted_page_still_answers(client):
    resp = await client.get("/api/v1/datasets?page=2147483647&per_page=100")
    assert resp.status == 200
    assert (await resp.json())["data"] == []


async def test_a_thousand_tags_are_refused_not_a_recursion(client):
    tags = ",".join(f"t{i}" for i in range(1000))
    resp = await client.get(f"/api/v1/datasets?tags={tags}")
    assert resp.status == 400
    body = await resp.json()
    assert_envelope(body, "VALIDATION_ERROR", resp.headers["X-Request-ID"])
    assert body["error"]["details"]["field"] == "tags"


async def test_filter_values_longer_than_their_columns_are_refused(client):
    for path, field in (("/api/v1/datasets?tags=" + "x" * 65, "tags"),
                        ("/api/v1/datasets?status=" + "x" * 100, "status"),
                        ("/api/v1/datasets?name=" + "x" * 201, "name"),
                        ("/api/v1/jobs?pipeline_id=" + "x" * 41, "pipeline_id")):
        resp = await client.get(path)
        assert resp.status == 400, path
        assert (await resp.json())["error"]["details"]["field"] == field


async def test_fifty_tags_still_filter(client):
    await client.post("/api/v1/datasets", json={**CREATE_DATASET, "tags": [f"t{i}" for i in range(50)]})
    resp = await client.get("/api/v1/datasets?tags=" + ",".join(f"t{i}" for i in range(50)))
    assert resp.status == 200
    assert len((await resp.json())["data"]) == 1


async def test_deeply_nested_json_body_is_refused(client):
    for depth in (65, 3000):
        body = '{"name": ' + "[" * depth + "]" * depth + "}"
        resp = await client.post("/api/v1/datasets", data=body, headers={"Content-Type": "application/json"})
        assert resp.status == 400
        payload = await resp.json()
        assert_envelope(payload, "INVALID_JSON", resp.headers["X-Request-ID"])
        assert payload["error"]["details"]["max_depth"] == 64


async def test_long_url_and_header_get_the_envelope(client):
    resp = await client.get("/api/v1/datasets?name=" + "a" * 9000)
    assert resp.status == 414
    assert_envelope(await resp.json(), "URI_TOO_LONG", resp.headers["X-Request-ID"])
    resp = await client.get("/api/v1/datasets", headers={"X-Padding": "a" * 9000})
    assert resp.status == 431
    assert_envelope(await resp.json(), "HEADERS_TOO_LARGE", resp.headers["X-Request-ID"])


async def test_unknown_route_and_method_carry_rate_limit_headers(client):
    for resp in (await client.get("/api/v1/nothing-here"), await client.patch("/api/v1/datasets"),
                 await client.get("/nothing")):
        assert resp.status in (404, 405)
        assert "X-RateLimit-Limit" in resp.headers and "X-RateLimit-Remaining" in resp.headers
        assert (await resp.json())["error"]["request_id"] == resp.headers["X-Request-ID"]


async def test_hostile_input_is_not_logged_as_an_error(client, caplog):
    # given
    caplog.set_level(logging.INFO)
    # when
    await client.get(f"/api/v1/datasets/{LONG_ID}")
    await client.get("/api/v1/datasets?page=" + "9" * 30)
    await client.get("/api/v1/datasets?tags=" + ",".join(f"t{i}" for i in range(1000)))
    # then
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_nul_characters_are_refused_on_every_backend(client):
    # PostgreSQL cannot store U+0000 in text; SQLite could: both refuse it at the edge alike.
    for path in ("/api/v1/datasets?name=a%00b", "/api/v1/pipelines?name=a%00b", "/api/v1/datasets?tags=a%00",
                 "/api/v1/jobs?created_after=2026-01-01T00:00:00%00Z"):
        resp = await client.get(path)
        assert resp.status == 400, path
        assert_envelope(await resp.json(), "VALIDATION_ERROR", resp.headers["X-Request-ID"])
    for body in (dataset_body(description="a\u0000b"), dataset_body(tags=["a\u0000"]), {"a\u0000": 1}):
        resp = await client.post("/api/v1/datasets", json=body)
        assert resp.status == 400
        assert (await resp.json())["error"]["details"]["reason"] == "Contains U+0000"
    assert (await (await client.get("/api/v1/datasets")).json())["data"] == []


async def test_instants_that_utc_cannot_hold_are_refused(client):
    # given: offsets that push a valid local time past year 9999 or before year 1 in UTC
    for path in ("/api/v1/jobs?created_after=9999-12-31T23:59:59-23:59",
                 "/api/v1/jobs?created_before=0001-01-01T00:00:00%2B23:59"):
        resp = await client.get(path)
        assert resp.status == 400, path
        assert (await resp.json())["error"]["details"]["reason"] == "Out of range in UTC"
    resp = await client.post("/api/v1/workspaces/ws_default/keys", json={
        "name": "k", "scopes": ["admin"], "expires_at": "9999-12-31T23:59:59-23:59"})
    assert resp.status == 400


async def test_if_match_with_a_revision_past_64_bits_is_stale_not_an_error(client):
    dataset_id = (await (await client.post("/api/v1/datasets", json=CREATE_DATASET)).json())["id"]
    for revision in ("9" * 40, "\u00b2"):
        resp = await client.put(f"/api/v1/datasets/{dataset_id}", json={"description": "x"},
                                headers={"If-Match": f'"{dataset_id}.{revision}"'})
        assert resp.status == 412
        assert_envelope(await resp.json(), "PRECONDITION_FAILED", resp.headers["X-Request-ID"])


async def raw_exchange(client, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are (past what an HTTP client library would build) and read the whole answer."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        writer.write(request)
        await writer.drain()
        answer = await reader.read()  # the server closes the connection after a parse refusal
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


@pytest.mark.parametrize(("request_bytes", "status", "code"), [
    (b"GET /api/v1/datasets?name=" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "URI_TOO_LONG"),
    (b"GET /api/v1/datasets HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 100_000 + b"\r\n\r\n", 431,
     "HEADERS_TOO_LARGE"),
    (b"GET /api/v1/datasets HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(300)) + b"\r\n",
     431, "HEADERS_TOO_LARGE"),
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all\r\n\r\n", 400, "BAD_REQUEST"),
    (b"GET /api/v1/datasets HTTP/1.1\r\nHost: x\r\nBad Header Name: v\r\n\r\n", 400, "BAD_REQUEST"),
])
async def test_requests_the_http_parser_refuses_still_get_the_envelope(client, request_bytes, status, code):
    # when a request is past even the HTTP parser's limits, or not HTTP at all
    got, headers, body = await raw_exchange(client, request_bytes)
    # then the refusal is the envelope, with a request id, not aiohttp's plain text
    assert got == status
    assert headers["content-type"].startswith("application/json")
    assert_envelope(json.loads(body), code, headers["x-request-id"])
    # and the server goes on answering
    assert (await client.get("/api/v1/datasets")).status == 200


@pytest.mark.parametrize(("path", "content_type"), [
    ("/api/v1/datasets", "application/json"),
    ("/graphql", "application/json"),
])
@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_a_body_its_content_encoding_cannot_decode_is_a_400_not_a_server_error(
        client, caplog, path, content_type, encoding):
    # when the body claims an encoding it does not have
    with caplog.at_level(logging.INFO):
        resp = await client.post(path, data=b'{"name": "x"}', headers={"Content-Type": content_type,
                                                                       "Content-Encoding": encoding})
    # then
    assert resp.status == 400
    assert_envelope(await resp.json(), "BAD_REQUEST", resp.headers["X-Request-ID"])
    assert (await resp.json())["error"]["details"] == {"content_encoding": encoding}
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_form_its_content_encoding_cannot_decode_is_an_oauth_invalid_request(anonymous):
    resp = await anonymous.post("/oauth/token", data=b"grant_type=client_credentials",
                                headers={"Content-Type": "application/x-www-form-urlencoded",
                                         "Content-Encoding": "gzip"})
    assert resp.status == 400
    assert (await resp.json())["error"] == "invalid_request"


async def test_a_compressed_body_is_bounded_after_decompression(client):
    # given 2 MB of JSON that gzip shrinks to a few KB
    import gzip
    body = gzip.compress(b'{"name": "' + b"a" * 2_000_000 + b'"}')
    # when
    resp = await client.post("/api/v1/datasets", data=body, headers={"Content-Type": "application/json",
                                                                     "Content-Encoding": "gzip"})
    # then
    assert resp.status == 413
    assert_envelope(await resp.json(), "PAYLOAD_TOO_LARGE", resp.headers["X-Request-ID"])
