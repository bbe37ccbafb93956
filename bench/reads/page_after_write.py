"""A dataset page read right after a write, the domain's part alone: stamped views against views kept by
whole stored rows, alternating in one process on one database, so the two share the machine's moment.

    python -m bench.reads.page_after_write [--rounds 2000] [--postgres postgres://postgres@127.0.0.1:5432/postgres]

Seeds a scratch database as the read bench does (a new SQLite file, or a new PostgreSQL database on the
server given, dropped afterwards). Each round writes one dataset of the page from another connection (as
another request or process would), then reads the page of 100 newest (`server.models.rows.built_page`)
with one builder; then the same with the other. The stamped builder reads the page's keys and stamps and
loads the changed row alone; the other reads every column of the 100 rows and keys its views by all of
them. Prints the CPU time of this process per page for each, and their ratio.
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


async def _run(url: str, folder: Path, rounds: int) -> dict[str, float]:
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
        builders = {"stamped": LISTED_DATASET,
                    "whole rows": RowBuilder(Dataset, DATASET_COLUMNS, DatasetView.from_values)}
        where, order = {"workspace_id": DEFAULT_WORKSPACE_ID}, ("-created_at", "-id")
        ids = [view.id for view in (await built_page(LISTED_DATASET, where, order, 100, 0))[1]]
        write, close = await _writer(url)
        spent = dict.fromkeys(builders, 0.0)
        try:
            for number in range(rounds + 20):
                for name, builder in builders.items():
                    await write(f"round {number} {name}", ids[number % len(ids)])
                    began = time.process_time()
                    total, views = await built_page(builder, where, order, 101, 0)
                    if number >= 20:  # the first rounds warm the kept views
                        spent[name] += time.process_time() - began
                    assert len(views) == 101 and total >= 101
        finally:
            await close()
    return spent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--postgres", help="a PostgreSQL server URL: the bench creates (and drops) its own database")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="docc-bench-") as scratch, \
            scratch_database(args.postgres, Path(scratch)) as url:
        spent = asyncio.run(_run(url, Path(scratch), args.rounds))
    print(f"Database: {'PostgreSQL' if args.postgres else 'SQLite'}; {args.rounds} rounds")
    for name, seconds in spent.items():
        print(f"{name}: {1000 * seconds / args.rounds:.3f} ms of CPU per page read after a write")
    print(f"stamped / whole rows: {spent['stamped'] / spent['whole rows']:.2f}")


if __name__ == "__main__":
    main()
