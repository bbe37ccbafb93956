"""Throughput of execute_steps next to the same work written directly in Polars.

    python -m bench.pipeline_bench --rows 1000000 [--sinks 2] [--postgres postgres://postgres@127.0.0.1:5432/test]

Generates a CSV (duplicates, NULLs, padded text, mixed types) under bench/data/, then times
source -> cleaner (remove_duplicates, handle_nulls drop, trim, cast) -> sink(s) into SQLite and, when a URL
is given, PostgreSQL: once through execute_steps, once as direct Polars (scan, clean, ADBC write). With
`--sinks 2` both write the same rows into two tables; the pipeline stages both and publishes them together
at the end (and, from the second repetition on, replaces the rows of tables that exist, keeping them).
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

import polars as pl

from server.engine.dataplane import MappingResolver, Policy, RunContext, execute_steps

DATA = Path(__file__).parent / "data"
SCHEMA = {
    "fields": [
        {"name": "id", "type": "bigint"},
        {"name": "name", "type": "string"},
        {"name": "age", "type": "integer"},
        {"name": "score", "type": "double"},
        {"name": "signup", "type": "date"},
        {"name": "active", "type": "boolean"},
    ]
}
CLEANER = {"remove_duplicates": True, "handle_nulls": "drop", "trim": True, "cast": True}


def generate(rows: int) -> Path:
    """A CSV of `rows` rows, about 5% exact duplicates and 5% rows with a NULL; reused when present."""
    path = DATA / f"customers_{rows}.csv"
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    rng = random.Random(42)
    unique = int(rows * 0.95)
    ids = list(range(unique)) + [rng.randrange(unique) for _ in range(rows - unique)]
    frame = pl.DataFrame({"id": ids}).with_columns(
        pl.format("  customer {} ", pl.col("id")).alias("name"),
        pl.when(pl.col("id") % 20 == 3).then(None).otherwise(pl.col("id") % 90).alias("age"),
        (pl.col("id") * 0.37 % 100).alias("score"),
        (pl.date(2020, 1, 1) + pl.duration(days=pl.col("id") % 1500)).cast(pl.String).alias("signup"),
        (pl.col("id") % 2 == 0).alias("active"),
    )
    tmp = path.with_suffix(".tmp")
    frame.write_csv(tmp)
    os.replace(tmp, path)
    return path


def direct(path: Path, uri: str, table: str, sinks: int = 1) -> int:
    """The same cleaning written by hand in Polars, written with ADBC (once per sink)."""
    frame = (
        pl.scan_csv(path, infer_schema_length=10_000)
        .with_columns(pl.col(pl.String).str.strip_chars())
        .with_columns(
            pl.col("id").cast(pl.Int64),
            pl.col("age").cast(pl.Int32),
            pl.col("score").cast(pl.Float64),
            pl.col("signup").str.to_date(),
            pl.col("active").cast(pl.Boolean),
        )
        .drop_nulls()
        .unique(keep="first", maintain_order=True)
        .collect(engine="streaming")
    )
    written = 0
    for n in range(sinks):
        written = frame.write_database(f"{table}_{n}", uri, engine="adbc", if_table_exists="replace")
    return written


def through_pipeline(path: Path, uri: str, table: str, sinks: int = 1) -> int:
    """The same work as a DOCC pipeline."""
    resolve = MappingResolver({"ds_bench": ({"type": "file", "path": str(path)}, SCHEMA)}, {"bench": uri})
    steps = [
        {"id": "input", "type": "data_source", "config": {"dataset_id": "ds_bench"}},
        {"id": "clean", "type": "data_cleaner", "config": CLEANER},
        *({"id": f"output_{n}", "type": "data_sink", "config": {"destination": f"bench.{table}_{n}"}}
          for n in range(sinks)),
    ]
    result = execute_steps(steps, resolve, RunContext(), Policy(file_roots=(str(path.resolve().parent),)))
    return result.steps["output_0"].rows_out or 0


def drop_tables(uri: str, tables: list[str]) -> None:
    """Drop the pipeline's target tables (untimed), so its next run creates them instead of replacing rows."""
    if uri.startswith("sqlite"):
        import adbc_driver_sqlite.dbapi as driver
        uri = uri.removeprefix("sqlite:///")
    else:
        import adbc_driver_postgresql.dbapi as driver
    with driver.connect(uri) as conn, conn.cursor() as cur:
        for table in tables:
            cur.execute(f'DROP TABLE IF EXISTS "{table}"')
        conn.commit()


def measure(label: str, rows: int, path: Path, uri: str, repeat: int, sinks: int = 1, fresh: bool = False) -> None:
    """Best of `repeat` runs of each, alternating, so both see the same cache state.

    The pipeline's `replace` keeps an existing table (its rows are replaced in one transaction: a copy from
    staging), while direct Polars drops and recreates it; `fresh` drops the pipeline's tables before each
    of its runs, so both create their tables.
    """
    best = {"direct": float("inf"), "pipeline": float("inf")}
    written = {}
    for _ in range(repeat):
        for name, fn in (("direct", direct), ("pipeline", through_pipeline)):
            if fresh and name == "pipeline":
                drop_tables(uri, [f"bench_pipeline_{n}" for n in range(sinks)])
            start = time.perf_counter()
            written[name] = fn(path, uri, f"bench_{name}", sinks)
            best[name] = min(best[name], time.perf_counter() - start)
    rate = {k: rows / v for k, v in best.items()}
    label = f"{label} ({'new tables' if fresh else 'tables kept'})"
    print(
        f"{label:25} direct Polars {rate['direct']:>12,.0f} rows/s ({best['direct']:.2f} s)   "
        f"execute_steps {rate['pipeline']:>12,.0f} rows/s ({best['pipeline']:.2f} s)   "
        f"ratio {rate['pipeline'] / rate['direct']:.2f}   rows written {written['pipeline']:,}"
        f" / {written['direct']:,}"
    )


def main() -> None:
    """Parse arguments, generate data, print both figures and their ratio per destination."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--postgres", help="PostgreSQL URL to write into (tables bench_direct, bench_pipeline)"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sinks", type=int, default=1, help="tables written with the same rows")
    parser.add_argument("--fresh", action="store_true", help="also measure with the pipeline's tables dropped first")
    args = parser.parse_args()
    path = generate(args.rows)
    print(f"input {path} ({args.rows:,} rows, {path.stat().st_size / 1e6:.0f} MB), {args.sinks} sink(s)")
    with tempfile.TemporaryDirectory(prefix="docc-bench-") as tmp:
        for fresh in (False, True) if args.fresh else (False,):
            measure("sqlite", args.rows, path, f"sqlite:///{tmp}/bench.db", args.repeat, args.sinks, fresh)
    if args.postgres:
        for fresh in (False, True) if args.fresh else (False,):
            measure("postgresql", args.rows, path, args.postgres, args.repeat, args.sinks, fresh)


if __name__ == "__main__":
    main()
