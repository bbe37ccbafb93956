"""Quality checks at scale: regex_match and not_null through the engine, beside the same check written by hand.

    python -m bench.quality_bench --rows 10000000 [--postgres postgres://postgres@127.0.0.1:5432/test]

Writes `--rows` rows (id, email: one in ten null, one in twenty malformed) to a Parquet file and, with
--postgres, to a table of a fresh database that is dropped at the end. Then, in the same run and best of
`--repeat`, times:
- the engine: `evaluate_source` on the dataset source (counts, pass ratio and the 20-row sample);
- direct Polars: one hand-written lazy streaming aggregate over the same file;
- direct SQL: one hand-written aggregate (`COUNT(*) FILTER (WHERE ...)`, `!~`) over the same table.
Prints rows per second and the ratio engine / direct (goal: at least 0.8). Run by hand, never in tests.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

import adbc_driver_postgresql.dbapi as pg_dbapi
import polars as pl

from server.engine.dataplane import Policy
from server.engine.dataplane.quality import CheckSpec, evaluate_source

PATTERN = r"^[^@]+@[^@]+\.[^@]+$"
CHECKS = {
    "regex_match": CheckSpec("bench", "regex_match", {"column": "email", "pattern": PATTERN}, 0.9, "error"),
    "not_null": CheckSpec("bench", "not_null", {"column": "email"}, 0.9, "error"),
}


def generate(rows: int) -> pl.DataFrame:
    """id and email: null when id % 10 == 0, malformed ('user<id>.example.com') when id % 20 == 5."""
    ids = pl.int_range(0, rows, dtype=pl.Int64, eager=True).alias("id")
    text = ids.cast(pl.String)
    email = (pl.when(ids % 10 == 0).then(None).when(ids % 20 == 5).then("user" + text + ".example.com")
             .otherwise("user" + text + "@example.com"))
    return pl.select(ids, email.alias("email"))


def direct_polars(path: str, rule: str) -> tuple[int, int]:
    """The check as one would write it in Polars: (rows, failed)."""
    email = pl.col("email")
    failed = email.is_null() if rule == "not_null" else email.is_not_null() & ~email.str.contains(PATTERN)
    rows, bad = pl.scan_parquet(path).select(pl.len(), failed.sum()).collect(engine="streaming").row(0)
    return int(rows), int(bad)


def direct_sql(url: str, table: str, rule: str) -> tuple[int, int]:
    """The check as one would write it in SQL: (rows, failed)."""
    failed = "email IS NULL" if rule == "not_null" else f"email IS NOT NULL AND email !~ '{PATTERN}'"
    with pg_dbapi.connect(url) as db, db.cursor() as cur:
        cur.execute(f"SELECT COUNT(*), COUNT(*) FILTER (WHERE {failed}) FROM {table}")
        rows, bad = cur.fetchone()
        db.rollback()
    return int(rows), int(bad)


def engine(source: dict, policy: Policy, rule: str) -> tuple[int, int]:
    [outcome] = evaluate_source(source, [CHECKS[rule]], policy=policy, schema_fields=[], references={},
                                sensitive=set())
    if outcome.status == "error":
        raise RuntimeError(outcome.error)
    return outcome.rows_checked, outcome.rows_failed


def compare(label: str, rows: int, repeat: int, ours: Callable, theirs: Callable) -> None:
    """Best time of each side; the runs alternate so that a busy moment of the machine hits both alike."""
    times: dict[str, list[float]] = {"ours": [], "theirs": []}
    counts = {}
    for _ in range(repeat):
        for side, run in (("ours", ours), ("theirs", theirs)):
            start = time.perf_counter()
            counts[side] = run()
            times[side].append(time.perf_counter() - start)
    if counts["ours"] != counts["theirs"]:
        raise RuntimeError(f"{label}: engine counted {counts['ours']}, direct code {counts['theirs']}")
    ours_s, theirs_s = min(times["ours"]), min(times["theirs"])
    print(f"{label:<28} engine {ours_s:7.3f} s {rows / ours_s / 1e6:7.2f} M rows/s | direct {theirs_s:7.3f} s "
          f"{rows / theirs_s / 1e6:7.2f} M rows/s | ratio {theirs_s / ours_s:5.2f} | failed {counts['ours'][1]:,}")


def load_postgres(base: str, frame: pl.DataFrame) -> tuple[str, str, str]:
    """A fresh database holding the frame as table 'emails'; returns (admin url, database name, url)."""
    name = f"docc_quality_bench_{uuid.uuid4().hex[:8]}"
    with pg_dbapi.connect(base, autocommit=True) as admin, admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(base)
    url = urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))
    with pg_dbapi.connect(url) as db, db.cursor() as cur:
        cur.adbc_ingest("emails", frame.to_arrow(), mode="create")
        db.commit()
    with pg_dbapi.connect(url, autocommit=True) as db, db.cursor() as cur:
        cur.execute("VACUUM ANALYZE emails")  # Hint bits set and statistics taken before any timing.
    return base, name, url


def drop_postgres(base: str, name: str) -> None:
    with pg_dbapi.connect(base, autocommit=True) as admin, admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", default=os.environ.get("DOCC_TEST_POSTGRES_URL", ""))
    args = parser.parse_args()
    frame = generate(args.rows)
    with tempfile.TemporaryDirectory(prefix="docc-quality-bench-") as folder:
        folder = os.path.realpath(folder)
        policy = Policy(file_roots=(folder,), local_hosts=True)  # Its PostgreSQL table is on this machine.
        path = os.path.join(folder, "emails.parquet")
        frame.write_parquet(path)
        source = {"type": "file", "path": path}
        print(f"{args.rows:,} rows, best of {args.repeat}; ratio = direct time / engine time (goal >= 0.8)")
        for rule in CHECKS:
            compare(f"parquet {rule}", args.rows, args.repeat, lambda r=rule: engine(source, policy, r),
                    lambda r=rule: direct_polars(path, r))
        if not args.postgres:
            print("postgresql: skipped (no --postgres or DOCC_TEST_POSTGRES_URL)")
            return
        base, name, url = load_postgres(args.postgres, frame)
        try:
            table = {"type": "database", "connection": url, "table": "emails"}
            for rule in CHECKS:
                compare(f"postgresql {rule}", args.rows, args.repeat, lambda r=rule: engine(table, policy, r),
                        lambda r=rule: direct_sql(url, "emails", r))
        finally:
            drop_postgres(base, name)


if __name__ == "__main__":
    main()
