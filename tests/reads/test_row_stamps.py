"""Row stamps (migration datasets 0006): every write to a dataset row gives it a new stamp, and a list page
read after a write loads in full only the rows whose stamp it has not seen."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from tortoise import connections

from resolvers.datasets import LISTED_DATASET
from server.models.datasets import Dataset
from server.models.rows import RowBuilder
from tests.reads.test_point_reads import LIST, create, outside  # noqa: F401 (a fixture)


@pytest.fixture
def settings(settings):
    # No background work (job claims, schedules, usage flushes) sending statements between the requests.
    return dataclasses.replace(settings, run_jobs=False, run_schedules=False)


async def stamp_of(dataset_id: str) -> int:
    rows = await connections.get("default").execute_query_dict(
        f"SELECT row_stamp FROM datasets WHERE id = '{dataset_id}'")
    return int(rows[0]["row_stamp"])


async def test_every_write_to_a_dataset_row_gives_it_a_new_stamp(client, outside):  # noqa: F811
    # given: two new datasets
    first, second = await create(client, "orders"), await create(client, "sales")
    seen = [await stamp_of(first), await stamp_of(second)]
    stale = await Dataset.get(id=first)
    # when: the first is written every way a row can be: through the API, an ORM update of one column,
    # plain SQL from another connection, the save of an object read before those writes, and SQL that writes
    # the row's first stamp back
    writes = [
        lambda: client.put(f"/api/v1/datasets/{first}", json={"description": "new"}),
        lambda: Dataset.filter(id=first).update(quality_score=0.5),
        lambda: outside(f"UPDATE datasets SET tags = '[\"x\"]' WHERE id = '{first}'"),
        lambda: outside(f"UPDATE datasets SET name = name WHERE id = '{first}'"),
        lambda: stale.save(),
        # an old stamp written by hand is not kept
        lambda: outside(f"UPDATE datasets SET description = 'old', row_stamp = {seen[0]} WHERE id = '{first}'"),
    ]
    for write in writes:
        await write()
        seen.append(await stamp_of(first))
    # then: every state of a row has a stamp no earlier state of any row had
    assert 0 not in seen
    assert len(set(seen)) == len(seen), seen
    assert await stamp_of(second) == seen[1]


async def test_a_page_after_a_write_loads_only_the_rows_that_changed(client, outside, statements):  # noqa: F811
    # given: three datasets read on a page
    ids = [await create(client, name) for name in ("orders", "sales", "customers")]
    assert (await client.get(LIST)).status == 200
    kept = LISTED_DATASET.stamped
    # when: one of them changes by plain SQL, and the page is read again
    await outside(f"UPDATE datasets SET description = 'changed' WHERE id = '{ids[1]}'")
    statements.clear()
    misses = kept.misses
    page = await client.get(LIST)
    # then: the change is shown, and one statement loaded that row alone
    by_id = {item["id"]: item for item in (await page.json())["data"]}
    assert by_id[ids[1]]["description"] == "changed" and by_id[ids[0]]["description"] != "changed"
    assert kept.misses - misses == 1
    loads = [sql for sql in statements if " IN (" in sql]
    assert len(loads) == 1 and loads[0].count("?") + loads[0].count("$") == 1, loads


async def test_a_page_of_rows_all_seen_loads_none(client, statements):
    # given: a page read
    for name in ("orders", "sales"):
        await create(client, name)
    assert (await client.get(LIST)).status == 200
    # when: another slice of the same, unchanged rows (not a cached answer: another query)
    statements.clear()
    page = await client.get("/api/v1/datasets?per_page=1&page=2")
    # then: its row came from the kept views: a count and the page's keys and stamps, no load
    assert [item["name"] for item in (await page.json())["data"]] == ["orders"]
    assert not [sql for sql in statements if " IN (" in sql]
    assert any("row_stamp" in sql for sql in statements)


async def test_a_row_gone_before_it_is_loaded_is_read_with_the_whole_page(client, monkeypatch):
    # given: two datasets, and the stamped read told that a row named by the page has gone meanwhile
    for name in ("orders", "sales"):
        await create(client, name)
    gone = 0

    async def vanished(self: RowBuilder[Any], keyed: Any, read: Any, dialect: str) -> None:
        nonlocal gone
        gone += 1
        assert await read(f"SELECT id FROM datasets WHERE id = '{keyed[0][0]}' AND 1 = 0", []) == []
        return None

    monkeypatch.setattr(RowBuilder, "by_stamps", vanished)
    # when
    page = await client.get(LIST)
    # then: the page was read again whole, with every row
    assert gone == 1
    assert [item["name"] for item in (await page.json())["data"]] == ["sales", "orders"]


async def test_rows_missing_from_the_load_give_no_page(client):
    # given: a page naming a row that does not exist (deleted between the page and the load)
    await create(client, "orders")

    async def load(sql: str, params: Any) -> list[Any]:
        return []

    # when / then
    assert await LISTED_DATASET.by_stamps([("ds_00000000000000000000", 7)], load, "sqlite") is None
