"""Datasets through the SDK against a real server: every round trip, sync and async, with typed models."""

from __future__ import annotations

import docc
import pytest

from tests.clients.helpers import SCHEMA, assert_fully_known, dataset_spec, unique


@pytest.fixture
def client(server):
    with docc.Client(server.url, server.key) as client:
        yield client


def test_a_dataset_round_trips_through_create_get_update_and_delete(client, server):
    # given
    spec = dataset_spec(server.files, tags=["pii", "sdk"], description="people")
    # when
    created = client.datasets.create(spec)
    fetched = client.datasets.get(created.id)
    updated = client.datasets.update(created.id, description="customers", if_match=fetched.etag)
    client.datasets.delete(created.id)
    # then
    assert isinstance(created, docc.models.Dataset) and created.id.startswith("ds_")
    assert fetched.name == spec["name"] and fetched.tags == ["pii", "sdk"] and fetched.status == "active"
    assert [f.name for f in fetched.schema_.fields] == ["id", "name", "age"]
    assert updated.description == "customers" and updated.etag != fetched.etag
    for model in (created, fetched, updated):
        assert_fully_known(model)
    with pytest.raises(docc.NotFound):
        client.datasets.get(created.id)


def test_a_stale_etag_is_refused_and_nothing_is_overwritten(client, server):
    # given
    created = client.datasets.create(dataset_spec(server.files))
    client.datasets.update(created.id, description="first")
    # when
    with pytest.raises(docc.PreconditionFailed) as refused:
        client.datasets.update(created.id, description="second", if_match=created.etag)
    # then
    assert refused.value.status == 412 and refused.value.request_id.startswith("req_")
    assert client.datasets.get(created.id).description == "first"


def test_keyword_arguments_and_models_build_the_same_dataset(client, server):
    # given
    spec = dataset_spec(server.files)
    # when
    made = client.datasets.create(name=spec["name"], source=spec["source"], schema=SCHEMA, tags=["kw"])
    # then
    assert made.name == spec["name"] and made.tags == ["kw"]
    assert client.datasets.get(made.id).source["path"] == spec["source"]["path"]


def test_list_filters_by_tags_and_name(client, server):
    # given
    tag = unique("tag")
    wanted = client.datasets.create(dataset_spec(server.files, tags=[tag, "pii"]))
    client.datasets.create(dataset_spec(server.files, tags=[tag]))
    # when
    found = list(client.datasets.list(tags=[tag, "pii"]))
    by_name = list(client.datasets.list(name=wanted.name.upper()))
    # then
    assert [d.id for d in found] == [wanted.id]
    assert [d.id for d in by_name] == [wanted.id]
    assert_fully_known(found)


def test_schema_versions_history_and_validation(client, server):
    # given
    created = client.datasets.create(dataset_spec(server.files))
    wider = [*SCHEMA["fields"], {"name": "email", "type": "string", "nullable": True}]
    breaking = [f for f in SCHEMA["fields"] if f["name"] != "name"] + [
        {"name": "country", "type": "string", "nullable": False}]
    # when
    report = client.datasets.validate_schema(created.id, breaking)
    stored = client.datasets.update_schema(created.id, wider)
    current = client.datasets.schema(created.id)
    history = list(client.datasets.history(created.id))
    # then
    assert report.compatible is False and {c.field for c in report.changes} >= {"country"}
    assert stored.version == 2 and stored.compatibility_report.compatible is True
    assert current.version == 2 and [f.name for f in current.fields][-1] == "email"
    assert [v.version for v in history] == [2, 1]
    for model in (report, stored, current, *history):
        assert_fully_known(model)
    with pytest.raises(docc.SchemaIncompatible) as refused:
        client.datasets.update_schema(created.id, breaking)
    assert refused.value.status == 409 and refused.value.details


async def test_the_async_client_has_the_same_methods(server):
    # given
    async with docc.AsyncClient(server.url, server.key) as client:
        spec = dataset_spec(server.files, tags=[unique("async")])
        # when
        created = await client.datasets.create(spec)
        fetched = await client.datasets.get(created.id)
        listed = [d.id async for d in client.datasets.list(tags=spec["tags"])]
        history = [v.version async for v in client.datasets.history(created.id)]
        await client.datasets.delete(created.id)
        # then
        assert fetched.name == spec["name"] and listed == [created.id] and history == [1]
        with pytest.raises(docc.NotFound):
            await client.datasets.get(created.id)
