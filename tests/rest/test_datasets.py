"""REST /api/v1/datasets: the reference's examples, validation, conflicts, paging and preconditions."""

from __future__ import annotations

import re

import pytest

from tests.examples import CREATE_DATASET, dataset_body

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


async def create(client, **overrides):
    resp = await client.post("/api/v1/datasets", json=dataset_body(**overrides))
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def test_create_dataset_example_matches_the_reference(client):
    # when
    resp = await client.post("/api/v1/datasets", json=CREATE_DATASET)
    # then
    assert resp.status == 201
    body = await resp.json()
    assert list(body) == ["id", "name", "description", "status", "created_at", "updated_at", "source",
                          "schema", "tags", "quality_score", "last_profiled"]
    assert body["id"].startswith("ds_")
    assert body["name"] == "customer_data"
    assert body["description"] == "Customer information dataset"
    assert body["status"] == "active"
    assert ISO_Z.match(body["created_at"]) and ISO_Z.match(body["updated_at"])
    assert body["source"] == {"type": "database", "connection": "postgresql://user:***@host:5432/db",
                              "table": "customers"}
    assert body["schema"] == CREATE_DATASET["schema"]
    assert body["tags"] == ["customer", "pii"]
    assert body["quality_score"] is None and body["last_profiled"] is None
    assert resp.headers["Location"] == f"/api/v1/datasets/{body['id']}"


async def test_password_is_stored_but_never_returned(client):
    # given
    created = await create(client)
    # when
    got = await client.get(f"/api/v1/datasets/{created['id']}")
    listed = await client.get("/api/v1/datasets")
    # then
    for text in (await got.text(), await listed.text()):
        assert "pass@" not in text and ":pass" not in text
    from server.models.datasets import Dataset
    row = await Dataset.get(id=created["id"])
    assert row.source["connection"] == "postgresql://user:pass@host:5432/db"


@pytest.mark.parametrize(("body", "field"), [
    (dataset_body(source={"type": "ftp", "path": "/x"}), "source.type"),
    (dataset_body(source={"type": "database", "connection": "postgresql://host", "table": "t"}),
     "source.connection"),
    (dataset_body(source={"type": "database", "connection": "not a url", "table": "t"}), "source.connection"),
    (dataset_body(source={"type": "database", "connection": "sqlite:///a.db"}), "source.table"),
    (dataset_body(source={"type": "file", "path": "/data/x.csv", "colour": "red"}), "source.colour"),
    (dataset_body(owner="me"), "owner"),
    (dataset_body(name=42), "name"),
    (dataset_body(name=""), "name"),
    (dataset_body(tags="pii"), "tags"),
    (dataset_body(schema={"fields": [{"name": "id", "type": "uuid"}]}), "schema.fields[0].type"),
    (dataset_body(schema={"fields": [{"name": "id", "type": "integer", "nullable": "no"}]}),
     "schema.fields[0].nullable"),
    (dataset_body(schema={"fields": [{"name": "a", "type": "string"}, {"name": "A", "type": "string"}]}),
     "schema.fields[1].name"),
    (dataset_body(compatibility="SOMETIMES"), "compatibility"),
])
async def test_invalid_create_is_refused_with_the_field_named(client, body, field):
    # when
    resp = await client.post("/api/v1/datasets", json=body)
    # then
    assert resp.status == 400
    error = (await resp.json())["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"]["field"] == field
    assert error["request_id"] == resp.headers["X-Request-ID"]
    listed = await (await client.get("/api/v1/datasets")).json()
    assert listed["meta"]["total"] == 0


async def test_names_are_unique_in_a_workspace(client):
    # given
    await create(client)
    # when
    resp = await client.post("/api/v1/datasets", json=CREATE_DATASET)
    # then
    assert resp.status == 409
    assert (await resp.json())["error"]["code"] == "CONFLICT"
    assert (await (await client.get("/api/v1/datasets")).json())["meta"]["total"] == 1


async def test_file_source_gets_its_format_from_the_extension(client):
    body = await create(client, name="events", source={"type": "file", "path": "/data/events.ndjson"})
    assert body["source"] == {"type": "file", "path": "/data/events.ndjson", "format": "jsonl"}


async def test_get_update_and_delete(client):
    # given
    created = await create(client)
    url = f"/api/v1/datasets/{created['id']}"
    # when
    resp = await client.put(url, json={"description": "Customers, deduplicated", "tags": ["gold"]})
    # then
    assert resp.status == 200
    body = await resp.json()
    assert body["description"] == "Customers, deduplicated" and body["tags"] == ["gold"]
    assert body["name"] == "customer_data"
    filtered = await (await client.get("/api/v1/datasets?tags=gold")).json()
    assert [d["id"] for d in filtered["data"]] == [created["id"]]
    # and when deleted, it is gone
    assert (await client.delete(url)).status == 204
    missing = await client.get(url)
    assert missing.status == 404
    assert (await missing.json())["error"]["code"] == "NOT_FOUND"


async def test_unknown_id_is_404_on_every_route(client):
    for method, path in [("GET", ""), ("PUT", ""), ("DELETE", ""), ("GET", "/schema"), ("PUT", "/schema"),
                         ("GET", "/schema/history"), ("POST", "/schema/validate")]:
        body = {"fields": []} if "schema" in path else {"description": "x"}
        resp = await client.request(method, f"/api/v1/datasets/ds_missing{path}",
                                    json=body if method in {"PUT", "POST"} else None)
        assert resp.status == 404, (method, path)
        assert (await resp.json())["error"]["code"] == "NOT_FOUND"


async def test_rename_to_a_taken_name_is_a_conflict_and_changes_nothing(client):
    # given
    first = await create(client, name="a")
    await create(client, name="b")
    # when
    resp = await client.put(f"/api/v1/datasets/{first['id']}", json={"name": "b", "description": "changed"})
    # then
    assert resp.status == 409
    after = await (await client.get(f"/api/v1/datasets/{first['id']}")).json()
    assert after["name"] == "a" and after["description"] == CREATE_DATASET["description"]


async def test_if_match_refuses_a_stale_update(client):
    # given
    created = await create(client)
    url = f"/api/v1/datasets/{created['id']}"
    etag = (await client.get(url)).headers["ETag"]
    assert (await client.put(url, json={"description": "first"}, headers={"If-Match": etag})).status == 200
    # when: a second editor still holds the old ETag
    resp = await client.put(url, json={"description": "second"}, headers={"If-Match": etag})
    # then
    assert resp.status == 412
    assert (await resp.json())["error"]["code"] == "PRECONDITION_FAILED"
    assert (await (await client.get(url)).json())["description"] == "first"
    stale_delete = await client.delete(url, headers={"If-Match": etag})
    assert stale_delete.status == 412


async def test_invalid_update_leaves_the_row_untouched(client):
    # given
    created = await create(client)
    url = f"/api/v1/datasets/{created['id']}"
    # when
    resp = await client.put(url, json={"description": "new", "source": {"type": "database", "connection": "x"}})
    # then
    assert resp.status == 400
    assert (await resp.json())["error"]["details"]["field"] == "source.connection"
    assert (await (await client.get(url)).json())["description"] == CREATE_DATASET["description"]


@pytest.mark.parametrize("query", ["page=2&per_page=2", "limit=2&offset=2"])
async def test_lists_page_with_totals_and_links(client, query):
    # given
    for index in range(5):
        await create(client, name=f"ds{index}")
    # when
    resp = await client.get(f"/api/v1/datasets?{query}")
    # then
    body = await resp.json()
    assert body["meta"]["total"] == 5 and resp.headers["X-Total-Count"] == "5"
    assert [d["name"] for d in body["data"]] == ["ds2", "ds1"]
    assert body["links"]["next"] is not None and body["links"]["prev"] is not None
    following = await (await client.get(body["links"]["next"])).json()
    assert [d["name"] for d in following["data"]] == ["ds0"]
    assert following["links"]["next"] is None
    assert 'rel="next"' in resp.headers["Link"]


@pytest.mark.parametrize(("query", "field"), [("per_page=101", "per_page"), ("limit=0", "limit"),
                                              ("page=x", "page"), ("page=1&limit=5", "page"),
                                              ("offset=-1", "offset"), ("source_type=s3", "source_type")])
async def test_bad_paging_parameters_are_refused(client, query, field):
    resp = await client.get(f"/api/v1/datasets?{query}")
    assert resp.status == 400
    assert (await resp.json())["error"]["details"]["field"] == field


async def test_filters_by_name_source_type_and_status(client):
    # given
    await create(client, name="orders_raw", source={"type": "file", "path": "/data/orders.csv"})
    await create(client, name="orders_clean", status="deprecated")
    await create(client, name="customers")
    # when / then
    async def names(query):
        return sorted(d["name"] for d in (await (await client.get(f"/api/v1/datasets?{query}")).json())["data"])
    assert await names("name=ORDERS") == ["orders_clean", "orders_raw"]
    assert await names("source_type=file") == ["orders_raw"]
    assert await names("status=deprecated") == ["orders_clean"]
    assert await names("tags=customer,pii&name=cust") == ["customers"]
