"""Real files through execute_steps: csv/parquet/jsonl sources, every cleaner option, file and SQLite sinks."""

from __future__ import annotations

import polars as pl
import pytest

from server.engine.dataplane import MappingResolver, execute_steps

from .conftest import SCHEMA, write_customers

CLEAN = {"remove_duplicates": True, "handle_nulls": "drop", "trim": True, "cast": True}
EXPECTED = [(1, "Ann", 30, "a@x.io"), (4, "Dee", 25, "d@x.io")]


def steps(cleaner: dict, sink: dict, source: dict | None = None) -> list[dict]:
    return [
        {"id": "input", "type": "data_source", "config": {"dataset_id": "ds_in", **(source or {})}},
        {"id": "clean", "type": "data_cleaner", "config": cleaner},
        {"id": "output", "type": "data_sink", "config": sink},
    ]


def sqlite_rows(db: str, sql: str) -> pl.DataFrame:
    return pl.read_database_uri(sql, f"sqlite:///{db}", engine="adbc")


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_each_file_format_is_cleaned_into_sqlite(tmp_path, recorder, fmt):
    # given the sample customers in one format and a warehouse connection
    source = write_customers(str(tmp_path / f"in.{fmt}"), fmt)
    db = tmp_path / "wh.db"
    resolve = MappingResolver({"ds_in": (source, SCHEMA)}, {"warehouse": f"sqlite:///{db}"})
    # when
    result = execute_steps(steps(CLEAN, {"destination": "warehouse.customers"}), resolve, recorder.ctx, recorder.policy)
    # then duplicates, null rows and padding are gone and the rows are typed
    rows = sqlite_rows(str(db), "SELECT id, name, age, email FROM customers ORDER BY id")
    assert rows.rows() == EXPECTED
    assert rows.schema["id"] == pl.Int64 and rows.schema["age"] == pl.Int64
    assert [(s.rows_in, s.rows_out) for s in result.steps.values()] == [(5, 5), (5, 2), (2, 2)]
    assert recorder.events == [
        ("start", "input"),
        ("start", "clean"),
        ("start", "output"),
        ("end", "input"),
        ("end", "clean"),
        ("end", "output"),
    ]
    assert recorder.progress[-1] == 1.0


def test_fill_rename_and_explicit_casts_into_parquet(tmp_path, recorder):
    # given
    source = write_customers(str(tmp_path / "in.csv"), "csv")
    out = tmp_path / "out.parquet"
    cleaner = {
        "remove_duplicates": True,
        "trim": ["name"],
        "rename": {"name": "full_name"},
        "handle_nulls": {"strategy": "fill", "values": {"age": "0", "email": "none"}},
        "cast": {"id": "bigint", "age": "double"},
    }
    # when
    execute_steps(
        steps(cleaner, {"path": str(out)}), MappingResolver({"ds_in": (source, SCHEMA)}), recorder.ctx, recorder.policy
    )
    # then the filled values are typed like their columns and the rename applied last
    frame = pl.read_parquet(out).sort("id")
    assert frame.schema == pl.Schema(
        {"id": pl.Int64, "full_name": pl.String, "age": pl.Float64, "email": pl.String}
    )
    assert frame.rows() == [
        (1, "Ann", 30.0, "a@x.io"),
        (2, "Bob", 0.0, "b@x.io"),
        (3, "Cy", 41.0, "none"),
        (4, "Dee", 25.0, "d@x.io"),
    ]


def test_filter_subset_dedupe_and_drop_on_columns(tmp_path, recorder):
    # given
    source = write_customers(str(tmp_path / "in.jsonl"), "jsonl")
    out = tmp_path / "out.csv"
    cleaner = {
        "trim": True,
        "cast": True,
        "handle_nulls": {"strategy": "drop", "columns": ["email"]},
        "remove_duplicates": ["name"],
        "filter": "id >= 2 OR age = 30",
    }
    # when
    result = execute_steps(
        steps(cleaner, {"path": str(out)}), MappingResolver({"ds_in": (source, SCHEMA)}), recorder.ctx, recorder.policy
    )
    # then Cy (no email) is dropped, Bob (no age) kept, Ann kept once
    assert pl.read_csv(out).sort("id").rows() == [
        (1, "Ann", 30, "a@x.io"),
        (2, "Bob", None, "b@x.io"),
        (4, "Dee", 25, "d@x.io"),
    ]
    assert result.steps["clean"].rows_out == 3


def test_source_projection_and_filter_reach_a_sqlite_table(tmp_path, recorder):
    # given a SQLite table whose text column starts with NULLs (the driver would guess a number)
    db = tmp_path / "src.db"
    pl.DataFrame(
        {
            "id": list(range(3000)),
            "note": [None] * 2000 + [f"n{i}" for i in range(1000)],
            "extra": [1.5] * 3000,
        }
    ).write_database("notes", f"sqlite:///{db}", engine="adbc")
    source = {"type": "database", "connection": f"sqlite:///{db}", "table": "notes"}
    out = tmp_path / "out.parquet"
    pipeline = [
        {
            "id": "input",
            "type": "data_source",
            "config": {"dataset_id": "ds_in", "columns": ["id", "note"], "filter": "id >= 1998"},
        },
        {"id": "output", "type": "data_sink", "config": {"path": str(out)}},
    ]
    # when
    result = execute_steps(pipeline, MappingResolver({"ds_in": (source, {})}), recorder.ctx, recorder.policy)
    # then only the projected columns and filtered rows arrive, NULLs intact
    frame = pl.read_parquet(out)
    assert frame.columns == ["id", "note"]
    assert frame.head(3).rows() == [(1998, None), (1999, None), (2000, "n0")]
    assert result.steps["input"].rows_out == 1002


def test_a_step_feeding_two_sinks_reads_its_source_once(tmp_path, recorder):
    # given one cleaner feeding a parquet and a jsonl sink
    source = write_customers(str(tmp_path / "in.csv"), "csv")
    pipeline = [
        *steps(CLEAN, {"path": str(tmp_path / "a.parquet")}),
        {
            "id": "copy",
            "type": "data_sink",
            "config": {"path": str(tmp_path / "b.jsonl")},
            "depends_on": ["clean"],
        },
    ]
    # when
    result = execute_steps(pipeline, MappingResolver({"ds_in": (source, SCHEMA)}), recorder.ctx, recorder.policy)
    # then both files hold the same rows and the source counted its rows once
    assert pl.read_parquet(tmp_path / "a.parquet").sort("id").rows() == EXPECTED
    assert pl.read_ndjson(tmp_path / "b.jsonl").sort("id").rows() == EXPECTED
    assert result.steps["input"].rows_out == 5
    assert (result.steps["copy"].rows_in, result.steps["copy"].rows_out) == (2, 2)


def test_append_adds_rows_and_replace_swaps_them(tmp_path, recorder):
    # given
    source = write_customers(str(tmp_path / "in.csv"), "csv")
    db = tmp_path / "wh.db"
    resolve = MappingResolver({"ds_in": (source, SCHEMA)}, {"warehouse": f"sqlite:///{db}"})
    file_out = tmp_path / "out.parquet"
    # when run twice in append mode, then once in replace mode
    for mode in ("append", "append"):
        execute_steps(
            steps(CLEAN, {"destination": "warehouse.customers", "mode": mode}), resolve, recorder.ctx, recorder.policy
        )
        execute_steps(steps(CLEAN, {"path": str(file_out), "mode": mode}), resolve, recorder.ctx, recorder.policy)
    appended = sqlite_rows(str(db), "SELECT id FROM customers ORDER BY id")["id"].to_list()
    appended_file = sorted(pl.read_parquet(file_out)["id"].to_list())
    execute_steps(steps(CLEAN, {"destination": "warehouse.customers"}), resolve, recorder.ctx, recorder.policy)
    # then
    assert appended == [1, 1, 4, 4] and appended_file == [1, 1, 4, 4]
    assert sqlite_rows(str(db), "SELECT id FROM customers ORDER BY id")["id"].to_list() == [1, 4]
    tables = sqlite_rows(str(db), "SELECT name FROM sqlite_master WHERE type = 'table'")["name"].to_list()
    assert tables == ["customers"]  # No staging table is left behind.


def test_a_sink_to_a_file_dataset_uses_its_csv_options(tmp_path, recorder):
    # given a target dataset stored as semicolon-separated csv
    source = write_customers(str(tmp_path / "in.csv"), "csv")
    target = {
        "type": "file",
        "path": str(tmp_path / "out.txt"),
        "format": "csv",
        "options": {"delimiter": ";"},
    }
    resolve = MappingResolver({"ds_in": (source, SCHEMA), "ds_out": (target, SCHEMA)})
    # when
    execute_steps(steps(CLEAN, {"dataset_id": "ds_out"}), resolve, recorder.ctx, recorder.policy)
    # then
    assert (tmp_path / "out.txt").read_text().splitlines()[0] == "id;name;age;email"
