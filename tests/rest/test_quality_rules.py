"""REST /api/v1/quality/rules: the reference's example, validation per rule type, filters, enable/disable, delete."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.examples import CREATE_DATASET, CREATE_QUALITY_RULE

ROOT = "/api/v1/quality/rules"


async def make_dataset(client, **overrides: Any) -> str:
    body = {**copy.deepcopy(CREATE_DATASET), **overrides}
    resp = await client.post("/api/v1/datasets", json=body)
    assert resp.status == 201, await resp.text()
    return (await resp.json())["id"]


def rule_body(dataset_id: str, **overrides: Any) -> dict[str, Any]:
    body = copy.deepcopy(CREATE_QUALITY_RULE)
    body["dataset_id"] = dataset_id
    body.update(overrides)
    return body


async def make_rule(client, dataset_id: str, **overrides: Any) -> dict[str, Any]:
    resp = await client.post(ROOT, json=rule_body(dataset_id, **overrides))
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def test_the_reference_example_creates_a_rule(client):
    # given
    dataset_id = await make_dataset(client)
    body = copy.deepcopy(CREATE_QUALITY_RULE)
    body["dataset_id"] = dataset_id
    # when
    resp = await client.post(ROOT, json=body)
    # then
    assert resp.status == 201, await resp.text()
    rule = await resp.json()
    assert rule["id"].startswith("qr_")
    assert resp.headers["Location"] == f"{ROOT}/{rule['id']}"
    for key in ("name", "description", "dataset_id", "rule_type", "config", "severity", "enabled"):
        assert rule[key] == body[key], key
    assert rule["config"]["threshold"] == 0.95
    assert rule["version"] == 1 and rule["latest_status"] is None
    got = await client.get(f"{ROOT}/{rule['id']}")
    assert (await got.json()) == rule


@pytest.mark.parametrize(("rule_type", "config", "field"), [
    ("regex_match", {"column": "email"}, "config.pattern"),
    ("regex_match", {"column": "email", "pattern": "(unclosed"}, "config.pattern"),
    ("regex_match", {"column": "nope", "pattern": "^a$"}, "config.column"),
    ("regex_match", {"column": "email", "pattern": "^a$", "threshold": 1.5}, "config.threshold"),
    ("not_null", {"column": "bad name"}, "config.column"),
    ("not_null", {"column": "email", "colour": "red"}, "config.colour"),
    ("unique", {}, "config"),
    ("unique", {"columns": ["id", "ghost"]}, "config.columns[1]"),
    ("accepted_values", {"column": "name", "values": []}, "config.values"),
    ("accepted_values", {"column": "name", "values": [{"a": 1}]}, "config.values[0]"),
    ("range", {"column": "id"}, "config"),
    ("range", {"column": "id", "min": 5, "max": 1}, "config"),
    ("length", {"column": "name", "min": -1}, "config.min"),
    ("row_count", {"min": "ten"}, "config.min"),
    ("freshness", {"column": "id", "max_age": "soon"}, "config.max_age"),
    ("referential", {"column": "id", "dataset_id": "ds_missing", "ref_column": "id"}, "config.dataset_id"),
    ("custom_sql", {"condition": "DROP TABLE customers"}, "config.condition"),
    ("custom_sql", {"condition": "id > 0; DELETE FROM customers"}, "config.condition"),
])
async def test_invalid_config_is_refused_at_save_naming_the_field(client, rule_type, config, field):
    # given
    dataset_id = await make_dataset(client)
    # when
    resp = await client.post(ROOT, json=rule_body(dataset_id, rule_type=rule_type, config=config))
    # then
    assert resp.status == 400, await resp.text()
    error = (await resp.json())["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"]["field"] == field
    assert (await (await client.get(ROOT)).json())["meta"]["total"] == 0


@pytest.mark.parametrize(("rule_type", "config"), [
    ("not_null", {"column": "email"}),
    ("unique", {"columns": ["id", "name"]}),
    ("unique", {"column": "id"}),
    ("accepted_values", {"column": "name", "values": ["a", "b", 3]}),
    ("range", {"column": "id", "min": 0, "max": 10.5, "max_inclusive": False}),
    ("length", {"column": "name", "min": 1, "max": 80}),
    ("row_count", {"min": 1}),
    ("freshness", {"column": "id", "max_age": "24h"}),
    ("freshness", {"column": "id", "max_age": 3600}),
    ("schema_match", {}),
    ("custom_sql", {"condition": "id > 0 AND name IS NOT NULL"}),
])
async def test_every_rule_type_saves_with_a_valid_config(client, rule_type, config):
    # given
    dataset_id = await make_dataset(client)
    # when
    rule = await make_rule(client, dataset_id, rule_type=rule_type, config=config)
    # then
    assert rule["rule_type"] == rule_type and rule["config"] == config


async def test_referential_names_a_dataset_of_the_same_workspace_only(client, credentials):
    # given
    from tests.conftest import Caller, bearer
    dataset_id = await make_dataset(client)
    other = Caller(client.http, bearer(credentials["other"]))
    foreign = await make_dataset(other, name="foreign")
    mine = await make_dataset(client, name="countries")
    config = {"column": "id", "dataset_id": foreign, "ref_column": "id"}
    # when
    refused = await client.post(ROOT, json=rule_body(dataset_id, rule_type="referential", config=config))
    accepted = await client.post(ROOT, json=rule_body(dataset_id, rule_type="referential",
                                                      config={**config, "dataset_id": mine}))
    # then
    assert refused.status == 400
    assert (await refused.json())["error"]["details"]["field"] == "config.dataset_id"
    assert accepted.status == 201


async def test_rules_of_another_workspace_do_not_exist(client, credentials):
    # given
    from tests.conftest import Caller, bearer
    rule = await make_rule(client, await make_dataset(client))
    other = Caller(client.http, bearer(credentials["other"]))
    foreign_dataset = await make_dataset(other)
    # when
    answers = [await other.get(f"{ROOT}/{rule['id']}"), await other.put(f"{ROOT}/{rule['id']}", json={"name": "x"}),
               await other.delete(f"{ROOT}/{rule['id']}"), await other.post(f"{ROOT}/{rule['id']}/run"),
               await other.post(f"{ROOT}/{rule['id']}/disable"), await other.get(f"{ROOT}/{rule['id']}/results")]
    on_foreign = await client.post(ROOT, json=rule_body(foreign_dataset))
    listed = await (await other.get(ROOT)).json()
    # then
    assert [resp.status for resp in answers] == [404] * 6
    assert on_foreign.status == 400
    assert (await on_foreign.json())["error"]["details"]["field"] == "dataset_id"
    assert listed["meta"]["total"] == 0


async def test_filters_select_by_dataset_type_severity_and_enabled(client):
    # given
    first, second = await make_dataset(client), await make_dataset(client, name="orders")
    email = await make_rule(client, first)
    not_null = await make_rule(client, first, rule_type="not_null", config={"column": "id"}, severity="error")
    on_second = await make_rule(client, second, rule_type="row_count", config={"min": 1}, severity="info",
                                enabled=False)

    async def ids(query: str) -> list[str]:
        resp = await client.get(f"{ROOT}?{query}")
        assert resp.status == 200, await resp.text()
        return [rule["id"] for rule in (await resp.json())["data"]]

    # then
    assert await ids(f"dataset_id={first}") == [not_null["id"], email["id"]]
    assert await ids("rule_type=row_count") == [on_second["id"]]
    assert await ids("severity=warning") == [email["id"]]
    assert await ids("enabled=false") == [on_second["id"]]
    assert await ids("dataset_id=ds_nothing") == []
    bad = await client.get(f"{ROOT}?severity=fatal")
    assert bad.status == 400 and (await bad.json())["error"]["details"]["field"] == "severity"


async def test_update_bumps_the_version_and_revalidates(client):
    # given
    rule = await make_rule(client, await make_dataset(client))
    # when
    renamed = await client.put(f"{ROOT}/{rule['id']}", json={"name": "renamed"})
    reconfigured = await client.put(f"{ROOT}/{rule['id']}", json={"rule_type": "not_null", "config": {"column": "id"}})
    invalid = await client.put(f"{ROOT}/{rule['id']}", json={"config": {"column": "ghost"}})
    type_without_config = await client.put(f"{ROOT}/{rule['id']}", json={"rule_type": "row_count"})
    # then
    assert renamed.status == 200 and (await renamed.json())["version"] == 1
    body = await reconfigured.json()
    assert body["version"] == 2 and body["rule_type"] == "not_null" and body["name"] == "renamed"
    assert invalid.status == 400 and (await invalid.json())["error"]["details"]["field"] == "config.column"
    assert type_without_config.status == 400
    assert (await (await client.get(f"{ROOT}/{rule['id']}")).json())["version"] == 2


async def test_enable_disable_and_delete(client):
    # given
    rule = await make_rule(client, await make_dataset(client))
    # when
    disabled = await (await client.post(f"{ROOT}/{rule['id']}/disable")).json()
    enabled = await (await client.post(f"{ROOT}/{rule['id']}/enable")).json()
    deleted = await client.delete(f"{ROOT}/{rule['id']}")
    # then
    assert disabled["enabled"] is False and enabled["enabled"] is True
    assert deleted.status == 204
    assert (await client.get(f"{ROOT}/{rule['id']}")).status == 404


async def test_narrow_keys(client):
    # given: keys made by the admin with only some quality scopes
    dataset_id = await make_dataset(client)
    rule = await make_rule(client, dataset_id)

    async def key(*scopes: str):
        from tests.conftest import Caller, bearer
        made = await client.post("/api/v1/workspaces/ws_default/keys", json={"name": "-".join(scopes),
                                                                             "scopes": list(scopes)})
        assert made.status == 201, await made.text()
        return Caller(client.http, bearer((await made.json())["key"]))

    quality_writer = await key("write:quality")
    quality_reader = await key("read:quality")
    full_writer = await key("write:quality", "read:datasets")
    # when
    writer_create = await quality_writer.post(ROOT, json=rule_body(dataset_id))
    reader_create = await quality_reader.post(ROOT, json=rule_body(dataset_id))
    reader_get = await quality_reader.get(f"{ROOT}/{rule['id']}")
    writer_get = await quality_writer.get(f"{ROOT}/{rule['id']}")
    full_create = await full_writer.post(ROOT, json=rule_body(dataset_id))
    writer_disable = await quality_writer.post(f"{ROOT}/{rule['id']}/disable")
    # then: defining a check reads data, so it needs read:datasets; a write-only key learns only ids
    assert writer_create.status == 403
    assert reader_create.status == 403
    assert reader_get.status == 200
    assert writer_get.status == 403
    assert full_create.status == 201 and set(await full_create.json()) == {"id", "version"}
    assert writer_disable.status == 200 and set(await writer_disable.json()) == {"id", "version"}


async def test_openapi_documents_the_quality_routes_and_their_vocabularies(client):
    # when
    document = await (await client.get("/api/v1/openapi.json")).json()
    paths = document["paths"]
    # then
    assert {"get", "post"} <= set(paths[ROOT])
    assert {"get", "put", "delete"} <= set(paths[f"{ROOT}/{{id}}"])
    for action in ("run", "enable", "disable", "results"):
        assert f"{ROOT}/{{id}}/{action}" in paths
    assert {"get", "post"} <= set(paths["/api/v1/datasets/{id}/profile"])
    create = paths[ROOT]["post"]["requestBody"]["content"]["application/json"]["schema"]
    text = str(create)
    for rule_type in ("not_null", "regex_match", "custom_sql", "referential"):
        assert rule_type in text
    assert "warning" in text and "severity" in text
    listed = {p["name"] for p in paths[f"{ROOT}/{{id}}/results"]["get"]["parameters"] if p["in"] == "query"}
    assert {"status", "since", "until", "page", "per_page"} <= listed
