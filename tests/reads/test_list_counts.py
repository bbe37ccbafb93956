"""Each workspace's dataset count, kept by triggers (migration datasets 0007): right after every kind of write,
read by the list instead of counting its rows, and counted again when its row is missing."""

from __future__ import annotations

import dataclasses
import importlib

import pytest
from tortoise import connections

from server.migrations.datasets import __name__ as migrations_package
from server.models.datasets import Dataset
from tests.reads.test_point_reads import LIST, create, outside  # noqa: F401 (a fixture)


@pytest.fixture
def settings(settings):
    # No background work (job claims, schedules, usage flushes) sending statements between the requests.
    return dataclasses.replace(settings, run_jobs=False, run_schedules=False)


async def _rows(sql: str) -> dict[str, int]:
    rows = await connections.get("default").execute_query_dict(sql)
    return {row["workspace_id"]: int(row["n"]) for row in rows}


async def kept_counts() -> dict[str, int]:
    """The kept count of every workspace that has a row, zeros left out."""
    kept = await _rows("SELECT workspace_id, dataset_count AS n FROM dataset_list_versions")
    return {workspace: count for workspace, count in kept.items() if count}


async def counted() -> dict[str, int]:
    return await _rows("SELECT workspace_id, COUNT(*) AS n FROM datasets GROUP BY workspace_id")


async def test_the_kept_count_follows_every_kind_of_write(client, other_client, outside):  # noqa: F811
    # given: datasets in two workspaces, made through the API
    ids = [await create(client, name) for name in ("orders", "sales", "customers", "returns")]
    other = await create(other_client, "orders")
    assert await kept_counts() == await counted() == {"ws_default": 4, "ws_other": 1}
    # when: rows are deleted, updated and moved every way a row can be
    writes = [
        lambda: client.delete(f"/api/v1/datasets/{ids[0]}"),
        lambda: Dataset.filter(id=ids[1]).update(description="changed"),
        lambda: outside(f"UPDATE datasets SET workspace_id = 'ws_other' WHERE id = '{ids[2]}'"),
        lambda: outside(f"UPDATE datasets SET workspace_id = 'ws_default' WHERE id = '{other}'"),
        lambda: outside(f"UPDATE datasets SET name = name WHERE id = '{ids[3]}'"),
        lambda: Dataset.filter(id=ids[3]).delete(),
    ]
    seen = []
    for write in writes:
        await write()
        seen.append((await kept_counts(), await counted()))
    # then: after each one the kept count is the rows' count
    for kept, rows in seen:
        assert kept == rows
    assert seen[-1][0] == {"ws_default": 2, "ws_other": 1}


async def test_a_list_reads_its_total_from_the_kept_count(client, other_client, statements):
    # given: three datasets here and one in another workspace
    for name in ("orders", "sales", "customers"):
        await create(client, name)
    await create(other_client, "orders")
    # when: the list is read right after a write (no cached answer)
    statements.clear()
    page = await client.get(LIST)
    # then: the total is right, and came from the kept count: no statement counted rows
    assert (await page.json())["meta"]["total"] == 3
    assert any("dataset_count" in sql for sql in statements), statements
    assert not [sql for sql in statements if "COUNT(" in sql.upper()], statements


async def test_without_a_kept_count_the_list_counts_its_rows(client, outside, statements):  # noqa: F811
    # given: two datasets, and their workspace's kept row gone (a restore that lacks it, a hand-made delete)
    for name in ("orders", "sales"):
        await create(client, name)
    await outside("DELETE FROM dataset_list_versions WHERE workspace_id = 'ws_default'")
    # when
    statements.clear()
    page = await client.get(LIST)
    # then: the rows were counted instead
    assert (await page.json())["meta"]["total"] == 2
    assert [sql for sql in statements if "COUNT(" in sql.upper()], statements


async def test_the_migration_counts_the_datasets_there_are(client, other_client, outside):  # noqa: F811
    # given: datasets stored with counts that are wrong, and a workspace with no kept row at all (as before
    # the migration)
    for name in ("orders", "sales"):
        await create(client, name)
    await create(other_client, "orders")
    await outside("UPDATE dataset_list_versions SET dataset_count = 0 WHERE workspace_id = 'ws_default'")
    await outside("DELETE FROM dataset_list_versions WHERE workspace_id = 'ws_other'")
    # when: the migration's counting statement runs
    migration = importlib.import_module(f"{migrations_package}.0007_list_counts")
    await outside(migration._BACKFILL)
    # then
    assert await kept_counts() == await counted() == {"ws_default": 2, "ws_other": 1}
