"""REST schema management: current schema, versions, dry-run validation and compatibility modes."""

from __future__ import annotations

import pytest

from tests.examples import dataset_body, fields

V1 = fields(("id", "integer", False), ("name", "string", False), ("email", "string", True))


async def make_dataset(client, compatibility="BACKWARD"):
    resp = await client.post("/api/v1/datasets", json=dataset_body(schema=V1, compatibility=compatibility))
    assert resp.status == 201
    return (await resp.json())["id"]


async def test_schema_starts_at_version_one(client):
    # given
    dataset_id = await make_dataset(client)
    # when
    body = await (await client.get(f"/api/v1/datasets/{dataset_id}/schema")).json()
    # then
    assert body["version"] == 1 and body["fields"] == V1["fields"] and body["compatibility"] == "BACKWARD"
    assert body["created_by"].startswith("key:")


async def test_compatible_change_is_stored_as_a_new_version(client):
    # given
    dataset_id = await make_dataset(client)
    widened = fields(("id", "bigint", False), ("name", "string", False), ("email", "string", True),
                     ("phone", "string", True))
    # when
    resp = await client.put(f"/api/v1/datasets/{dataset_id}/schema", json=widened)
    # then
    assert resp.status == 200
    body = await resp.json()
    assert body["version"] == 2
    changes = {(c["change"], c["field"]) for c in body["compatibility_report"]["changes"]}
    assert changes == {("type_changed", "id"), ("added", "phone")}
    history = await (await client.get(f"/api/v1/datasets/{dataset_id}/schema/history")).json()
    assert [v["version"] for v in history["data"]] == [2, 1]
    assert history["meta"]["total"] == 2
    dataset = await (await client.get(f"/api/v1/datasets/{dataset_id}")).json()
    assert dataset["schema"] == widened


async def test_incompatible_change_is_refused_with_the_report(client):
    # given
    dataset_id = await make_dataset(client)
    narrowed = fields(("id", "integer", False), ("name", "string", False), ("email", "string", False),
                      ("age", "integer", False))
    # when
    resp = await client.put(f"/api/v1/datasets/{dataset_id}/schema", json=narrowed)
    # then
    assert resp.status == 409
    error = (await resp.json())["error"]
    assert error["code"] == "SCHEMA_INCOMPATIBLE"
    assert {v["field"] for v in error["details"]["violations"]} == {"email", "age"}
    assert error["details"]["compatible"] is False
    current = await (await client.get(f"/api/v1/datasets/{dataset_id}/schema")).json()
    assert current["version"] == 1


async def test_force_stores_an_incompatible_change_and_marks_it(client):
    dataset_id = await make_dataset(client)
    resp = await client.put(f"/api/v1/datasets/{dataset_id}/schema?force=true",
                            json=fields(("id", "string", False)))
    assert resp.status == 200
    body = await resp.json()
    assert body["version"] == 2 and body["forced"] is True


async def test_validate_is_a_dry_run(client):
    # given
    dataset_id = await make_dataset(client)
    # when
    resp = await client.post(f"/api/v1/datasets/{dataset_id}/schema/validate",
                             json={"schema": fields(("id", "bigint", False)), "compatibility": "FORWARD"})
    # then
    report = await resp.json()
    assert resp.status == 200
    assert report["compatibility"] == "FORWARD" and report["compatible"] is False
    by_field = {c["field"]: c for c in report["changes"]}
    assert by_field["id"]["breaks_forward"] is True and by_field["id"]["breaks_backward"] is False
    assert by_field["name"]["change"] == "removed" and by_field["name"]["breaks_forward"] is True
    assert by_field["email"]["breaks_forward"] is False
    assert (await (await client.get(f"/api/v1/datasets/{dataset_id}/schema")).json())["version"] == 1


@pytest.mark.parametrize(("mode", "compatible"), [("BACKWARD", True), ("BACKWARD_TRANSITIVE", False)])
async def test_transitive_modes_check_every_earlier_version(client, mode, compatible):
    # given: v1 has `email` as a string, v2 drops it
    dataset_id = await make_dataset(client, compatibility="NONE")
    await client.put(f"/api/v1/datasets/{dataset_id}/schema", json=fields(("id", "integer", False)))
    # when: v3 brings `email` back as an integer (fine against v2, not against v1's strings)
    proposal = {"schema": fields(("id", "integer", False), ("email", "integer", True)), "compatibility": mode}
    report = await (await client.post(f"/api/v1/datasets/{dataset_id}/schema/validate", json=proposal)).json()
    # then
    assert report["compatible"] is compatible
    if not compatible:
        assert report["violations"][0]["version"] == 1


async def test_schema_put_honours_if_match(client):
    dataset_id = await make_dataset(client)
    etag = (await client.get(f"/api/v1/datasets/{dataset_id}")).headers["ETag"]
    await client.put(f"/api/v1/datasets/{dataset_id}", json={"description": "moved on"})
    resp = await client.put(f"/api/v1/datasets/{dataset_id}/schema", json=V1, headers={"If-Match": etag})
    assert resp.status == 412


@pytest.mark.parametrize(("body", "field"), [
    ({"fields": [{"name": "x", "type": "int"}]}, "schema.fields[0].type"),
    ({"fields": "x"}, "schema.fields"),
    ({"fields": [], "compatibility": "LOOSE"}, "compatibility"),
    ({"schema": {"fields": []}, "extra": 1}, "extra"),
])
async def test_invalid_schema_bodies_are_refused(client, body, field):
    dataset_id = await make_dataset(client)
    for method, path in [("PUT", "schema"), ("POST", "schema/validate")]:
        resp = await client.request(method, f"/api/v1/datasets/{dataset_id}/{path}", json=body)
        assert resp.status == 400, (method, await resp.text())
        assert (await resp.json())["error"]["details"]["field"] == field
