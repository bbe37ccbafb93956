"""Fill values of handle_nulls are checked at save against the column types the dataset schema makes known."""

from __future__ import annotations

import json

import pytest

from tests.rest.test_pipelines import make_dataset


def pipeline(dataset_id: str, cleaner: dict, name: str = "fills") -> dict:
    return {"name": name, "steps": [
        {"id": "input", "type": "data_source", "config": {"dataset_id": dataset_id}},
        {"id": "clean", "type": "data_cleaner", "config": cleaner},
    ]}


@pytest.mark.parametrize(("cleaner", "field"), [
    ({"handle_nulls": {"strategy": "fill", "values": {"age": 10**40}}}, "steps[1].config.handle_nulls.values.age"),
    ({"handle_nulls": {"strategy": "fill", "values": {"age": 3_000_000_000}}},
     "steps[1].config.handle_nulls.values.age"),
    ({"handle_nulls": {"strategy": "fill", "values": {"id": "not a number"}}},
     "steps[1].config.handle_nulls.values.id"),
    # A cast in the same cleaner runs first: the fill must fit the new type.
    ({"cast": {"name": "integer"}, "handle_nulls": {"strategy": "fill", "values": {"name": "unknown"}}},
     "steps[1].config.handle_nulls.values.name"),
])
async def test_a_fill_value_that_cannot_fit_its_column_is_refused_at_save(client, tmp_path, cleaner, field):
    # given
    dataset_id = await make_dataset(client, tmp_path)
    # when (raw JSON: an integer beyond 64 bits must reach the server as written)
    resp = await client.post("/api/v1/pipelines", data=json.dumps(pipeline(dataset_id, cleaner)),
                             headers={"Content-Type": "application/json"})
    # then
    assert resp.status == 400, await resp.text()
    error = (await resp.json())["error"]
    assert error["code"] == "VALIDATION_ERROR" and error["details"]["field"] == field
    assert (await (await client.get("/api/v1/pipelines")).json())["data"] == []


@pytest.mark.parametrize("cleaner", [
    {"handle_nulls": {"strategy": "fill", "values": {"age": 0, "name": "unknown", "id": "7"}}},
    # A column renamed by an earlier cleaner, or unknown to the schema, is left to the run.
    {"handle_nulls": {"strategy": "fill", "values": {"nickname": "x"}}},
    {"cast": {"age": "string"}, "handle_nulls": {"strategy": "fill", "values": {"age": "n/a"}}},
])
async def test_a_fill_value_that_fits_is_saved(client, tmp_path, cleaner):
    # given
    dataset_id = await make_dataset(client, tmp_path)
    # when
    resp = await client.post("/api/v1/pipelines", json=pipeline(dataset_id, cleaner))
    # then
    assert resp.status == 201, await resp.text()


async def test_types_follow_a_rename_into_the_next_cleaner(client, tmp_path):
    # given
    dataset_id = await make_dataset(client, tmp_path)
    body = {"name": "renamed", "steps": [
        {"id": "input", "type": "data_source", "config": {"dataset_id": dataset_id}},
        {"id": "first", "type": "data_cleaner", "config": {"rename": {"age": "years"}}},
        {"id": "second", "type": "data_cleaner",
         "config": {"handle_nulls": {"strategy": "fill", "values": {"years": "old"}}}},
    ]}
    # when
    resp = await client.post("/api/v1/pipelines", json=body)
    # then
    assert resp.status == 400
    assert (await resp.json())["error"]["details"]["field"] == "steps[2].config.handle_nulls.values.years"


async def test_an_update_is_checked_too(client, tmp_path):
    # given
    dataset_id = await make_dataset(client, tmp_path)
    created = await (await client.post("/api/v1/pipelines", json=pipeline(dataset_id, {"trim": True}))).json()
    # when
    bad = pipeline(dataset_id, {"handle_nulls": {"strategy": "fill", "values": {"age": "abc"}}})
    resp = await client.put(f"/api/v1/pipelines/{created['id']}", json={"steps": bad["steps"]})
    # then
    assert resp.status == 400
    assert (await resp.json())["error"]["details"]["field"] == "steps[1].config.handle_nulls.values.age"
