"""Lists answered from the per-app cache: ETags, 304, and no stale page after any write, wherever it came from."""

from __future__ import annotations

from dataclasses import replace

from tortoise import connections

from server.models.datasets import Dataset
from server.rest.list_cache import CachedList, ListCache
from tests.examples import CREATE_DATASET

LIST = "/api/v1/datasets?per_page=100"


async def create(client, name: str) -> dict:
    response = await client.post("/api/v1/datasets", json={**CREATE_DATASET, "name": name})
    assert response.status == 201
    return await response.json()


async def names(client, path: str = LIST) -> list[str]:
    response = await client.get(path)
    assert response.status == 200
    return [item["name"] for item in (await response.json())["data"]]


async def test_a_list_carries_an_etag_and_answers_304_while_unchanged(client):
    # given
    await create(client, "orders")
    first = await client.get(LIST)
    tag = first.headers["ETag"]
    # when
    again = await client.get(LIST, headers={"If-None-Match": tag})
    # then
    assert again.status == 304
    assert await again.read() == b""
    assert again.headers["ETag"] == tag


async def test_a_write_changes_the_etag_and_the_page(client):
    # given
    await create(client, "orders")
    tag = (await client.get(LIST)).headers["ETag"]
    # when
    await create(client, "customers")
    after = await client.get(LIST, headers={"If-None-Match": tag})
    # then
    assert after.status == 200
    assert after.headers["ETag"] != tag
    assert [item["name"] for item in (await after.json())["data"]] == ["customers", "orders"]


async def test_a_write_that_bypasses_the_api_is_seen_by_the_next_read(client):
    # given a cached page
    made = await create(client, "orders")
    assert (await (await client.get(LIST)).json())["data"][0]["description"] == CREATE_DATASET["description"]
    # when a worker-like writer changes the row with a bulk update, then with plain SQL
    await Dataset.filter(id=made["id"]).update(description="changed by a bulk update")
    bulk = (await (await client.get(LIST)).json())["data"][0]["description"]
    await connections.get("default").execute_script(
        f"UPDATE datasets SET description = 'changed by SQL' WHERE id = '{made['id']}'")
    plain = (await (await client.get(LIST)).json())["data"][0]["description"]
    # then
    assert (bulk, plain) == ("changed by a bulk update", "changed by SQL")


async def test_a_write_through_another_app_is_seen_by_this_one(client, start_app, settings):
    # given this app has the page cached, and a second app on the same database
    await create(client, "orders")
    assert await names(client) == ["orders"]
    other = await start_app(replace(settings, run_jobs=False, run_schedules=False))
    # when the other app writes
    await create(other, "customers")
    made = await create(other, "deleted-soon")
    await other.delete(f"/api/v1/datasets/{made['id']}")
    # then this app's next read shows it
    assert await names(client) == ["customers", "orders"]


async def test_workspaces_never_share_a_cached_page_or_an_etag(client, other_client):
    # given
    await create(client, "orders")
    mine = await client.get(LIST)
    # when
    theirs = await other_client.get(LIST)
    with_my_tag = await other_client.get(LIST, headers={"If-None-Match": mine.headers["ETag"]})
    # then
    assert (await theirs.json())["data"] == []
    assert theirs.headers["ETag"] != mine.headers["ETag"]
    assert with_my_tag.status == 200


async def test_pages_and_filters_are_cached_apart(client):
    # given
    for name in ("a1", "a2", "b1"):
        await create(client, name)
    # when
    first_page = await names(client, "/api/v1/datasets?per_page=2")
    second_page = await names(client, "/api/v1/datasets?per_page=2&page=2")
    filtered = await names(client, "/api/v1/datasets?name=a")
    # then
    assert (first_page, second_page, filtered) == (["b1", "a2"], ["a1"], ["a2", "a1"])


async def test_bad_paging_is_refused_even_with_a_matching_etag(client):
    # given
    tag = (await client.get(LIST)).headers["ETag"]
    # when
    response = await client.get("/api/v1/datasets?per_page=1000", headers={"If-None-Match": tag})
    # then
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "VALIDATION_ERROR"


def test_the_cache_keeps_only_the_most_recently_used_pages():
    # given
    cache = ListCache(capacity=2)
    for name in ("a", "b"):
        cache.put((name,), CachedList(name.encode(), ()))
    # when
    cache.get(("a",))
    cache.put(("c",), CachedList(b"c", ()))
    # then
    assert (len(cache), cache.get(("a",)) is not None, cache.get(("b",)), cache.get(("c",)) is not None) == (
        2, True, None, True)
