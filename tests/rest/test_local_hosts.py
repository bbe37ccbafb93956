"""Connection strings users give may not reach the server's own machine unless the operator allows it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from server.config import Settings
from server.engine.dataplane.hosts import LOCAL_REFUSED
from server.models.datasets import Dataset
from tests.graphql.helpers import create_dataset as gql_create_dataset

LOCAL_URLS = ["postgresql://postgres@127.0.0.1:5432/postgres", "postgres://postgres@localhost/test",
              "postgresql://postgres@[::1]:5432/postgres"]


@pytest.fixture
async def strict(start_app, settings):
    return await start_app(replace(settings, connection_local=False))


def test_the_default_is_to_refuse_and_the_setting_allows():
    assert Settings().connection_local is False
    assert Settings.from_env({"DOCC_CONNECTION_LOCAL": "true"}).connection_local is True


@pytest.mark.parametrize("url", LOCAL_URLS)
async def test_a_dataset_on_a_local_host_is_refused_on_both_surfaces_and_nothing_is_saved(strict, url):
    before = await Dataset.all().count()
    # when
    resp = await strict.post("/api/v1/datasets", json={"name": "pivot", "source": {
        "type": "database", "connection": url, "table": "pg_catalog.pg_authid"}})
    answer = await gql_create_dataset(strict, name="pivot", source={
        "type": "DATABASE", "connection": url, "table": "pg_catalog.pg_authid"})
    # then
    assert resp.status == 400, await resp.text()
    error = (await resp.json())["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"] == {"field": "source.connection", "reason": LOCAL_REFUSED}
    assert (answer["__typename"], answer["field"], answer["reason"]) == (
        "ValidationError", "source.connection", LOCAL_REFUSED)
    assert await Dataset.all().count() == before


async def test_an_operator_may_allow_local_hosts_by_the_setting_or_the_host_list(start_app, settings):
    source = {"type": "database", "connection": LOCAL_URLS[0], "table": "t"}
    for n, custom in enumerate((replace(settings, connection_local=True),
                                replace(settings, connection_local=False, connection_hosts=("127.0.0.1/32",)))):
        app = await start_app(custom)
        resp = await app.post("/api/v1/datasets", json={"name": f"local{n}", "source": source})
        assert resp.status == 201, await resp.text()
