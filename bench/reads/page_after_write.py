"""A dataset page read right after a write, the domain's part alone: stamped views against views kept by
whole stored rows, alternating in one process on one database, so the two share the machine's moment.

    python -m bench.reads.page_after_write [--rounds 2000]

Each round writes one dataset of the page from another connection (as another request or process would),
then reads the page of 100 newest (`server.models.rows.built_page`) with one builder; the next round with
the other. The stamped builder reads the page's keys and stamps and loads the changed row alone; the other
reads every column of the 100 rows and keys its views by all of them. Prints the CPU time of each per page
and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sqlite3
import time

from bench.reads.profile import seeded_copy


async def _run(rounds: int) -> None:
    from resolvers.datasets import LISTED_DATASET
    from resolvers.principal import DEFAULT_WORKSPACE_ID
    from resolvers.views.datasets import DATASET_COLUMNS, DatasetView
    from server.crypto.stored import secrets_at_rest
    from server.db import database
    from server.models.datasets import Dataset
    from server.models.rows import RowBuilder, built_page

    settings, _, scratch = await seeded_copy()
    try:
        async with database(settings.database_url), secrets_at_rest(settings):
            builders = {"stamped": LISTED_DATASET, "whole rows": RowBuilder(Dataset, DATASET_COLUMNS,
                                                                              DatasetView.from_values)}
            where, order = {"workspace_id": DEFAULT_WORKSPACE_ID}, ("-created_at", "-id")
            writer = sqlite3.connect(settings.database_url.removeprefix("sqlite://"), isolation_level=None)
            page = (await built_page(LISTED_DATASET, where, order, 101, 0))[1]
            ids = [view.id for view in page[:100]]
            spent = dict.fromkeys(builders, 0.0)
            for number in range(rounds + 20):
                for name, builder in builders.items():
                    writer.execute("UPDATE datasets SET description = ? WHERE id = ?",
                                   (f"round {number} {name}", ids[number % len(ids)]))
                    began = time.process_time()
                    total, views = await built_page(builder, where, order, 101, 0)
                    if number >= 20:  # the first rounds warm the kept views
                        spent[name] += time.process_time() - began
                    assert len(views) == 101 and total >= 101
            writer.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    for name, seconds in spent.items():
        print(f"{name}: {1000 * seconds / rounds:.3f} ms of CPU per page read after a write")
    print(f"stamped / whole rows: {spent['stamped'] / spent['whole rows']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2000)
    asyncio.run(_run(parser.parse_args().rounds))


if __name__ == "__main__":
    main()
