"""HEAD on every REST GET route: the GET's status and headers, no body."""

from __future__ import annotations

import pytest

from server.app import API_PREFIX, REST_ROUTES

COMPARED = ("Content-Type", "Cache-Control", "RateLimit-Limit")


async def test_every_rest_get_route_answers_head(client):
    # given
    gets = {route.resource.canonical for route in client.app.router.routes()
            if route.method == "GET" and route.resource is not None
            and route.resource.canonical.startswith(API_PREFIX)}
    heads = {route.resource.canonical for route in client.app.router.routes()
             if route.method == "HEAD" and route.resource is not None}
    # then
    assert {API_PREFIX + r.path for r in REST_ROUTES if r.method == "GET"} <= gets
    assert gets <= heads


@pytest.mark.parametrize("path", ["/api/v1/datasets", "/api/v1/pipelines", "/api/v1/datasets/ds_missing",
                                  "/api/v1/jobs/job_missing/logs"])
async def test_head_has_the_get_status_and_headers_and_no_body(client, path):
    # when
    get = await client.get(path)
    await get.read()
    head = await client.request("HEAD", path)
    # then
    assert head.status == get.status
    for name in COMPARED:
        assert head.headers.get(name) == get.headers.get(name), name
    assert head.headers.get("X-Request-ID")
    assert await head.read() == b""


async def test_head_without_credentials_is_a_401_with_no_body(anonymous):
    # when
    resp = await anonymous.request("HEAD", "/api/v1/datasets")
    # then
    assert resp.status == 401
    assert await resp.read() == b""


async def test_head_on_a_feed_answers_its_headers_without_streaming(client):
    # when the GET would stream for ever
    resp = await client.request("HEAD", "/api/v1/events", headers={"Accept": "text/event-stream"})
    # then the answer is complete: status, the stream's content type, no body
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    assert await resp.read() == b""
    # and the connection still serves the next request
    assert (await client.get("/api/v1/datasets")).status == 200
