"""The per-request lookups on their own connection (server.point_reads): writes made elsewhere are seen at once.

A write made by another connection (another process, a worker, plain SQL) and committed before a request
starts is seen by that request: a revoked key is refused, a renamed dataset is answered with its new name,
from the list and from the single-object cache. When the point reader cannot answer, the ORM's connection does.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest

from resolvers.datasets import LISTED_DATASET
from server.point_reads import _READERS, SQLITE_STEP_BUDGET, PostgresReader, SqliteReader
from tests.examples import CREATE_DATASET
from tests.reads.graphql_cache_world import make_world, rest

LIST = "/api/v1/datasets?per_page=100"
Sql = Callable[[str], Awaitable[None]]


@pytest.fixture
def settings(settings):
    # No background work (job claims, schedules, usage flushes) sending statements between the requests.
    return dataclasses.replace(settings, run_jobs=False, run_schedules=False)


@pytest.fixture
async def outside(settings) -> AsyncIterator[Sql]:
    """Runs a statement on a connection of its own, as another process or plain SQL would, committed at once."""
    url = settings.database_url
    if url.startswith("sqlite://"):
        connection = sqlite3.connect(url.removeprefix("sqlite://"), isolation_level=None)

        async def run_sqlite(sql: str) -> None:
            connection.execute(sql)

        yield run_sqlite
        connection.close()
        return
    parts = urlsplit(url)
    schema = parse_qs(parts.query)["schema"][0]
    pg = await asyncpg.connect(parts._replace(scheme="postgresql", query="").geturl(),
                               server_settings={"search_path": schema})

    async def run_postgres(sql: str) -> None:
        await pg.execute(sql)

    yield run_postgres
    await pg.close()


def the_reader() -> SqliteReader | PostgresReader:
    readers = list(_READERS.values())
    assert len(readers) == 1, "one open database in the test: the app's"
    return readers[0]


async def create(caller: Any, name: str) -> str:
    response = await caller.post("/api/v1/datasets", json={**CREATE_DATASET, "name": name})
    assert response.status == 201, await response.text()
    return (await response.json())["id"]


async def test_the_per_request_lookup_runs_on_the_point_reader(client, statements):
    # given: a list page and a dataset answer built and cached
    dataset_id = await create(client, "orders")
    assert (await client.get(LIST)).status == 200
    assert (await client.get(f"/api/v1/datasets/{dataset_id}")).status == 200
    reader = the_reader()
    before = reader.statements
    # when: both are read again
    statements.clear()
    page = await client.get(LIST)
    one = await client.get(f"/api/v1/datasets/{dataset_id}")
    # then: one statement each (the key's, with the version), both sent by the point reader
    assert page.status == 200 and one.status == 200
    assert len(statements) == 2 and reader.statements - before == 2


async def test_a_key_revoked_by_another_connection_is_refused_on_the_next_request(client, anonymous, outside):
    # given: a second key that has read the page
    made = await (await client.post("/api/v1/workspaces/ws_default/keys",
                                    json={"name": "short-lived", "scopes": ["read:datasets"]})).json()
    key = {"Authorization": f"Bearer {made['key']}"}
    assert (await anonymous.get(LIST, headers=key)).status == 200
    # when: revoked by plain SQL, not through the server
    await outside(f"UPDATE api_keys SET revoked_at = created_at WHERE id = '{made['id']}'")
    # then
    refused = await anonymous.get(LIST, headers=key)
    assert refused.status == 401
    assert (await refused.json())["error"]["details"]["reason"] == "revoked"


async def test_a_dataset_changed_by_another_connection_is_seen_by_the_next_reads(client, outside):
    # given: the list and the dataset cached, and their ETags
    dataset_id = await create(client, "orders")
    page, one = await client.get(LIST), await client.get(f"/api/v1/datasets/{dataset_id}")
    assert [item["name"] for item in (await page.json())["data"]] == ["orders"]
    list_tag, object_tag = page.headers["ETag"], one.headers["ETag"]
    # when: renamed by plain SQL (the triggers bump the workspace's list version in the same transaction)
    await outside(f"UPDATE datasets SET name = 'sales', revision = revision + 1 WHERE id = '{dataset_id}'")
    # then: neither the cached page nor the cached object is answered, nor a 304 for the old ETags
    page = await client.get(LIST, headers={"If-None-Match": list_tag})
    one = await client.get(f"/api/v1/datasets/{dataset_id}", headers={"If-None-Match": object_tag})
    assert page.status == 200 and one.status == 200
    assert [item["name"] for item in (await page.json())["data"]] == ["sales"]
    assert (await one.json())["name"] == "sales" and one.headers["ETag"] != object_tag


async def test_a_cached_dataset_answers_304_to_its_etag_and_a_write_ends_it(client):
    # given
    dataset_id = await create(client, "orders")
    first = await client.get(f"/api/v1/datasets/{dataset_id}")
    tag = first.headers["ETag"]
    # when
    again = await client.get(f"/api/v1/datasets/{dataset_id}", headers={"If-None-Match": tag})
    changed = await client.put(f"/api/v1/datasets/{dataset_id}", json={"description": "new"})
    after = await client.get(f"/api/v1/datasets/{dataset_id}", headers={"If-None-Match": tag})
    # then
    assert again.status == 304 and again.headers["ETag"] == tag and await again.read() == b""
    assert changed.status == 200
    assert after.status == 200 and (await after.json())["description"] == "new"


async def test_a_missing_dataset_is_not_kept(client):
    # given: a read of an id that does not exist yet
    missing = await client.get("/api/v1/datasets/ds_00000000000000000000")
    assert missing.status == 404
    assert (await missing.json())["error"]["code"] == "NOT_FOUND"
    # when: another dataset is created (so the version changes) and the same id is read again
    await create(client, "orders")
    again = await client.get("/api/v1/datasets/ds_00000000000000000000")
    # then
    assert again.status == 404


async def test_when_the_point_reader_cannot_answer_the_orm_connection_does(client, outside):
    # given: a cached page, then the point reader broken under the server
    await create(client, "orders")
    assert (await client.get(LIST)).status == 200
    reader = the_reader()
    if isinstance(reader, SqliteReader):
        reader._db.close()
    else:
        # The reader's connection is killed from outside, as a restart or a network cut would.
        assert reader._connection is not None
        await outside(f"SELECT pg_terminate_backend({reader._connection.get_server_pid()})")
    # when: a write, then a read
    await create(client, "customers")
    page = await client.get(LIST)
    # then: answered, with the write
    assert page.status == 200
    assert [item["name"] for item in (await page.json())["data"]] == ["customers", "orders"]


@pytest.fixture
async def postgres_reader(database_url) -> AsyncIterator[PostgresReader]:
    if not database_url.startswith("postgres"):
        pytest.skip("the PostgreSQL point reader")
    parts = urlsplit(database_url)
    reader = PostgresReader({"host": parts.hostname, "port": parts.port, "user": parts.username,
                             "database": parts.path.lstrip("/"),
                             "server_settings": {"search_path": parse_qs(parts.query)["schema"][0]}})
    yield reader
    await reader.close()


async def test_identical_statements_waiting_together_run_once(postgres_reader):
    # when: ten identical lookups at once
    found = await asyncio.gather(*(postgres_reader.rows("SELECT $1::text", ("k",)) for _ in range(10)))
    # then: each gets the answer; the first runs alone, the nine that waited for it run as one
    assert [list(rows[0]) for rows in found] == [["k"]] * 10
    assert postgres_reader.statements == 2


async def test_a_lookup_never_shares_a_statement_sent_before_it_began(postgres_reader, outside):
    # given: a version row, and a lookup of it in flight
    await outside("CREATE TABLE point_versions (id text PRIMARY KEY, version bigint)")
    await outside("INSERT INTO point_versions VALUES ('ws', 1)")
    sql = "SELECT version FROM point_versions WHERE id = $1"
    in_flight = asyncio.create_task(postgres_reader.rows(sql, ("ws",)))
    await asyncio.sleep(0)
    # when: a write commits, then the same lookup begins
    await outside("UPDATE point_versions SET version = 2 WHERE id = 'ws'")
    later = await postgres_reader.rows(sql, ("ws",))
    # then: the later lookup sees the write, whatever the earlier one saw
    assert later is not None and later[0][0] == 2
    assert (await in_flight) is not None


async def test_distinct_lookups_waiting_together_each_get_their_own_answer(postgres_reader):
    # when
    found = await asyncio.gather(*(postgres_reader.rows("SELECT $1::int * 2", (n,)) for n in range(6)))
    # then
    assert [rows[0][0] for rows in found] == [0, 2, 4, 6, 8, 10]


async def test_a_failing_statement_is_left_to_the_orm(postgres_reader):
    # when: a statement the database refuses
    found = await postgres_reader.rows("SELECT * FROM no_such_table WHERE id = $1", ("x",))
    # then: no answer from the reader (the ORM's connection runs it and raises its own error), and it still works
    assert found is None
    assert (await postgres_reader.rows("SELECT $1::text", ("ok",)))[0][0] == "ok"


async def test_a_page_read_after_a_write_shows_each_changed_column_and_reuses_the_unchanged_rows(client, outside):
    # given: two datasets read on a page (each view kept by its row's stored values)
    first, second = await create(client, "orders"), await create(client, "sales")
    assert (await client.get(LIST)).status == 200
    kept = LISTED_DATASET.stamped
    hits, misses = kept.hits, kept.misses
    # when: one column of one row changes by plain SQL, its revision and update time untouched
    await outside(f"UPDATE datasets SET quality_score = 0.25 WHERE id = '{first}'")
    page = await client.get(LIST)
    # then: the change is on the page (its row has a new stamp), and only the changed row was loaded again
    by_id = {item["id"]: item for item in (await page.json())["data"]}
    assert by_id[first]["quality_score"] == 0.25 and by_id[second]["quality_score"] is None
    assert (kept.hits - hits, kept.misses - misses) == (1, 1)


async def test_on_sqlite_a_page_read_after_a_write_runs_on_the_point_reader_and_is_not_kept_there(client):
    # given: a page read, then a write that ends the cached page
    await create(client, "orders")
    assert (await client.get(LIST)).status == 200
    reader = the_reader()
    if not isinstance(reader, SqliteReader):
        pytest.skip("on PostgreSQL the point reader is one connection: pages go through the pool")
    await create(client, "sales")
    before = reader.statements
    # when: the page is read again
    page = await client.get(LIST)
    # then: the key's lookup, the count, the page's keys and stamps, and the load of the one new row all
    # ran on the point reader, with the write seen
    assert [item["name"] for item in (await page.json())["data"]] == ["sales", "orders"]
    assert reader.statements - before == 4
    # and the page's rows are not among the answers the reader keeps (only the small lookups are)
    assert all(len(rows) <= 1 for rows in reader._answers.values())


async def test_on_sqlite_a_job_page_and_its_steps_attempts_and_pipelines_run_on_the_point_reader(client, tmp_path):
    # given: two queued runs of a two-step pipeline (no job runs in this app)
    reader = the_reader()
    if not isinstance(reader, SqliteReader):
        pytest.skip("on PostgreSQL the point reader is one connection: pages go through the pool")
    world = await make_world(client, tmp_path)
    runs = [(await rest(client, "POST", f"/pipelines/{world.pipeline}/run", status=202))["id"] for _ in range(2)]
    before = reader.statements
    # when
    page = await client.get("/api/v1/jobs?per_page=100")
    # then: the key's lookup, the count, the page, and the page's steps, attempts and pipelines all ran on the
    # point reader, and the page holds both runs with their steps
    assert page.status == 200, await page.text()
    jobs = (await page.json())["data"]
    assert [job["id"] for job in jobs] == runs[::-1]
    assert all([step["id"] for step in job["steps"]] == ["input", "output"] for job in jobs)
    assert reader.statements - before == 6


async def test_a_sqlite_statement_within_the_budget_is_answered_however_often_it_runs(tmp_path):
    # given: a reader of a WAL file, and a statement of some thousands of steps (a page of a few thousand rows)
    path = str(tmp_path / "often.db")
    setup = sqlite3.connect(path, isolation_level=None)
    setup.execute("PRAGMA journal_mode = wal")
    setup.execute("CREATE TABLE t (n INTEGER)")
    setup.executemany("INSERT INTO t VALUES (?)", [(n,) for n in range(2000)])
    reader = SqliteReader.open(path)
    assert reader is not None
    try:
        # when: it runs a few hundred times (SQLite counts a reused statement's steps across its runs, together
        # far past the budget of one run), kept and not kept
        answers = [await reader.rows("SELECT COUNT(*) FROM t WHERE n >= ?", (0,), keep=False) for _ in range(300)]
        kept = []
        for _ in range(300):
            setup.execute("UPDATE t SET n = n WHERE n = 0")  # another connection commits: the answer is not kept
            kept.append(await reader.rows("SELECT COUNT(*) FROM t WHERE n >= ?", (1,)))
        # then: every run was answered by the reader, none was stopped or left to the ORM
        assert all(found is not None and tuple(found[0]) == (2000,) for found in answers)
        assert all(found is not None and tuple(found[0]) == (1999,) for found in kept)
        assert not reader._too_long
    finally:
        await reader.close()
        setup.close()


async def test_a_sqlite_statement_past_the_step_budget_is_left_to_the_orm(tmp_path):
    # given: a reader of a WAL file holding a table
    path = str(tmp_path / "budget.db")
    setup = sqlite3.connect(path, isolation_level=None)
    setup.execute("PRAGMA journal_mode = wal")
    setup.execute("CREATE TABLE t (n INTEGER)")
    setup.execute("INSERT INTO t VALUES (1)")
    reader = SqliteReader.open(path)
    assert reader is not None
    try:
        # when: a small statement, then one that steps far past the budget (a count over a million rows)
        small = await reader.rows("SELECT n FROM t", ())
        large = await reader.rows("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 1000000) "
                                  "SELECT COUNT(*) FROM c", ())
        # then: the small one is answered; the large one is stopped and left to the caller (None), and the
        # reader still answers afterwards
        assert [tuple(row) for row in small] == [(1,)]
        assert large is None
        assert [tuple(row) for row in await reader.rows("SELECT n + 1 FROM t", ())] == [(2,)]
        # and the large one, asked again, is left to the caller at once, without a step: the progress handler,
        # which counts every budget spent, is not called again
        spent = 0

        def counting() -> int:
            nonlocal spent
            spent += 1
            return 1

        reader._db.set_progress_handler(counting, SQLITE_STEP_BUDGET)
        again = await reader.rows("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c "
                                  "WHERE i < 1000000) SELECT COUNT(*) FROM c", ())
        assert again is None and spent == 0
        # while the same statement shape with other parameters still runs on the reader
        assert [tuple(row) for row in await reader.rows("SELECT n + ? FROM t", (2,))] == [(3,)]
    finally:
        await reader.close()
        setup.close()
