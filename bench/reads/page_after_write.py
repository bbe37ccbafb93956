"""A dataset page read right after a write, the domain's part alone: stamped views with the workspace's kept
count (the list's builder), stamped views with the rows counted, and views kept by whole stored rows with the
rows counted, alternating in one process on one database, so the three share the machine's moment.

    python -m bench.reads.page_after_write [--rounds 2000] [--postgres postgres://postgres@127.0.0.1:5432/postgres]

Seeds a scratch database as the read bench does (a new SQLite file, or a new PostgreSQL database on the
server given, dropped afterwards). Each round writes one dataset of the page from another connection (as
another request or process would), then reads the page of 100 newest (`server.models.rows.built_page`)
with one builder; then the same with the next. A stamped builder reads the page's keys and stamps and
loads the changed row alone; the other reads every column of the 100 rows and keys its views by all of
them. The list's builder reads the total from the count its triggers keep; the others count the
workspace's rows. Prints the CPU time of this process per page for each, and its ratio to whole rows;
then the wall time, which on PostgreSQL also holds the database server's work (its CPU is not this
process's).
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bench.reads.processes import base_env, scratch_database

Write = Callable[[str, str], Awaitable[None]]


async def _writer(url: str) -> tuple[Write, Callable[[], Awaitable[None]]]:
    """Writes a dataset's description on a connection of its own, committed at once; and its closer."""
    if url.startswith("sqlite://"):
        connection = sqlite3.connect(url.removeprefix("sqlite://"), isolation_level=None)

        async def write_sqlite(text: str, dataset_id: str) -> None:
            connection.execute("UPDATE datasets SET description = ? WHERE id = ?", (text, dataset_id))

        async def close_sqlite() -> None:
            connection.close()

        return write_sqlite, close_sqlite
    pg = await asyncpg.connect(urlunsplit(urlsplit(url)._replace(scheme="postgresql")))

    async def write_postgres(text: str, dataset_id: str) -> None:
        await pg.execute("UPDATE datasets SET description = $1 WHERE id = $2", text, dataset_id)

    return write_postgres, pg.close


async def _grow(datasets: int) -> None:
    """Copies of the seeded datasets (new ids and names, the same rows otherwise) until the workspace holds
    `datasets`: how the page's count costs as a workspace grows."""
    from tortoise import connections
    from tortoise.transactions import in_transaction

    from server.models.datasets import Dataset

    conn = connections.get("default")
    columns = sorted(Dataset._meta.db_fields)
    seeded = int((await conn.execute_query("SELECT COUNT(*) FROM datasets"))[1][0][0])
    renamed = {"id": "id || '_{copy}'", "name": "name || '_{copy}'"}
    names = ", ".join(f'"{column}"' for column in columns)
    select = ", ".join(renamed.get(column, f'"{column}"') for column in columns)
    originals = r"id NOT LIKE '%\_%\_%' ESCAPE '\'"  # a copy's id has a second underscore
    async with in_transaction() as transaction:
        for copy in range(1, -(-datasets // seeded)):
            await transaction.execute_script(f"INSERT INTO datasets ({names}) "
                                      f"SELECT {select.format(copy=copy)} FROM datasets WHERE {originals}")


async def _run(url: str, folder: Path, rounds: int, datasets: int) -> dict[str, tuple[float, float]]:
    from tortoise.transactions import in_transaction

    from bench.reads.seed import seed
    from resolvers.datasets import LISTED_DATASET
    from resolvers.principal import DEFAULT_WORKSPACE_ID
    from resolvers.views.datasets import DATASET_COLUMNS, DatasetView
    from server.config import Settings
    from server.crypto.stored import secrets_at_rest
    from server.db import database
    from server.models.datasets import Dataset
    from server.models.rows import RowBuilder, built_page

    settings = Settings.from_env(base_env(url, folder, 0))
    async with database(settings.database_url), secrets_at_rest(settings):
        async with in_transaction():
            await seed()
        await _grow(datasets)
        builders = {"stamped, kept count": LISTED_DATASET,
                    "stamped, rows counted": RowBuilder(Dataset, DATASET_COLUMNS, DatasetView.from_values,
                                                        stamp=LISTED_DATASET.stamp),
                    "whole rows, rows counted": RowBuilder(Dataset, DATASET_COLUMNS, DatasetView.from_values)}
        where, order = {"workspace_id": DEFAULT_WORKSPACE_ID}, ("-created_at", "-id")
        ids = [view.id for view in (await built_page(LISTED_DATASET, where, order, 100, 0))[1]]
        write, close = await _writer(url)
        spent = dict.fromkeys(builders, (0.0, 0.0))
        try:
            for number in range(rounds + 20):
                for name, builder in builders.items():
                    await write(f"round {number} {name}", ids[number % len(ids)])
                    began, waited = time.process_time(), time.perf_counter()
                    total, views = await built_page(builder, where, order, 101, 0)
                    if number >= 20:  # the first rounds warm the kept views
                        cpu, wall = spent[name]
                        spent[name] = (cpu + time.process_time() - began, wall + time.perf_counter() - waited)
                    assert len(views) == 101 and total >= 101
        finally:
            await close()
    return spent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--datasets", type=int, default=1000,
                        help="datasets in the workspace: the seed's 1,000, and copies of them up to this number")
    parser.add_argument("--postgres", help="a PostgreSQL server URL: the bench creates (and drops) its own database")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="docc-bench-") as scratch, \
            scratch_database(args.postgres, Path(scratch)) as url:
        spent = asyncio.run(_run(url, Path(scratch), args.rounds, args.datasets))
    print(f"Database: {'PostgreSQL' if args.postgres else 'SQLite'}; {args.datasets:,} datasets; "
          f"{args.rounds} rounds")
    whole, whole_wall = spent["whole rows, rows counted"]
    for name, (cpu, wall) in spent.items():
        print(f"{name}: {1000 * cpu / args.rounds:.3f} ms of CPU per page read after a write "
              f"({cpu / whole:.2f} of whole rows), {1000 * wall / args.rounds:.3f} ms of wall time "
              f"({wall / whole_wall:.2f})")


if __name__ == "__main__":
    main()
