"""Failures and cancellation leave every destination exactly as it was."""

from __future__ import annotations

import os

import polars as pl
import pytest

from server.engine.dataplane import Cancelled, MappingResolver, StepFailed, execute_steps

from .conftest import CUSTOMERS, SCHEMA, write_customers
from .test_pipeline_files import CLEAN, sqlite_rows, steps

BIG_ROWS = 200_000


def big_source(tmp_path) -> dict:
    """Enough rows for many batches, so a run is still going when the test cancels it."""
    frame = pl.DataFrame(
        {
            "id": [str(i) for i in range(BIG_ROWS)],
            "name": [f" n{i} " for i in range(BIG_ROWS)],
            "age": ["30"] * BIG_ROWS,
            "email": ["e@x.io"] * BIG_ROWS,
        }
    )
    return write_customers(str(tmp_path / "big.csv"), "csv", frame)


def seeded_warehouse(tmp_path) -> str:
    db = str(tmp_path / "wh.db")
    pl.DataFrame({"id": [7], "name": ["before"]}).write_database(
        "customers", f"sqlite:///{db}", engine="adbc"
    )
    return db


def test_a_value_that_cannot_be_cast_fails_the_cleaner_and_keeps_the_table(tmp_path, recorder):
    # given an age of 'abc' and a warehouse table that already holds a row
    bad = CUSTOMERS.with_columns(
        pl.when(pl.col("id") == "4").then(pl.lit("abc")).otherwise("age").alias("age")
    )
    # (Parquet keeps the text as text; a CSV with a schema would already fail in its source step)
    source = write_customers(str(tmp_path / "in.parquet"), "parquet", bad)
    db = seeded_warehouse(tmp_path)
    resolve = MappingResolver({"ds_in": (source, SCHEMA)}, {"warehouse": f"sqlite:///{db}"})
    # when
    with pytest.raises(StepFailed) as info:
        execute_steps(steps(CLEAN, {"destination": "warehouse.customers"}), resolve, recorder.ctx, recorder.policy)
    # then the cleaner is named, with the bad value, and the table is untouched
    assert info.value.step_id == "clean"
    assert "'abc'" in info.value.message and "age" in info.value.message
    assert recorder.stats["clean"].error == info.value.message
    assert recorder.stats["output"].error == "stopped: step 'clean' failed"
    assert sqlite_rows(db, "SELECT * FROM customers").rows() == [(7, "before")]
    assert sqlite_rows(db, "SELECT count(*) AS n FROM sqlite_master")["n"].item() == 1


def test_a_failing_cast_leaves_the_target_file_untouched(tmp_path, recorder):
    # given
    bad = CUSTOMERS.with_columns(pl.lit("abc").alias("age"))
    source = write_customers(str(tmp_path / "in.csv"), "csv", bad)
    out = tmp_path / "out.parquet"
    pl.DataFrame({"id": [7]}).write_parquet(out)
    before = out.read_bytes()
    # when
    with pytest.raises(StepFailed):
        execute_steps(
            steps(CLEAN, {"path": str(out)}), MappingResolver({"ds_in": (source, SCHEMA)}),
            recorder.ctx, recorder.policy,
        )
    # then
    assert out.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["in.csv", "out.parquet"]


def test_a_failed_append_drops_its_staging_table(tmp_path, recorder):
    # given a target table without the email column, so the final INSERT fails after staging
    source = write_customers(str(tmp_path / "in.csv"), "csv")
    db = seeded_warehouse(tmp_path)
    resolve = MappingResolver({"ds_in": (source, SCHEMA)}, {"warehouse": f"sqlite:///{db}"})
    # when
    with pytest.raises(StepFailed) as info:
        execute_steps(
            steps(CLEAN, {"destination": "warehouse.customers", "mode": "append"}), resolve,
            recorder.ctx, recorder.policy,
        )
    # then
    assert info.value.step_id == "output"
    assert sqlite_rows(db, "SELECT * FROM customers").rows() == [(7, "before")]
    assert sqlite_rows(db, "SELECT name FROM sqlite_master")["name"].to_list() == ["customers"]


def test_an_unknown_connection_name_fails_the_sink(tmp_path, recorder):
    # given no connection named "lake"
    source = write_customers(str(tmp_path / "in.csv"), "csv")
    # when
    with pytest.raises(StepFailed) as info:
        execute_steps(
            steps(CLEAN, {"destination": "lake.t"}),
            MappingResolver({"ds_in": (source, SCHEMA)}),
            recorder.ctx,
            recorder.policy,
        )
    # then
    assert info.value.step_id == "output"
    assert "DOCC_CONNECTION_LAKE" in info.value.message


def test_cancel_after_a_staged_batch_leaves_the_table_untouched(tmp_path, recorder):
    # given a big input written in small batches, cancelled as soon as the first batch is staged
    source = big_source(tmp_path)
    db = seeded_warehouse(tmp_path)
    resolve = MappingResolver({"ds_in": (source, SCHEMA)}, {"warehouse": f"sqlite:///{db}"})
    recorder.cancel_once_staged(batch_rows=10_000)
    # when
    with pytest.raises(Cancelled):
        execute_steps(steps(CLEAN, {"destination": "warehouse.customers"}), resolve, recorder.ctx, recorder.policy)
    # then exactly one batch was staged, and neither it nor the staging table survived
    assert [m for _, _, m in recorder.logs if m.startswith("staged")] == ["staged 10000 rows"]
    assert sqlite_rows(db, "SELECT * FROM customers").rows() == [(7, "before")]
    assert sqlite_rows(db, "SELECT name FROM sqlite_master")["name"].to_list() == ["customers"]
    assert {s.error for s in recorder.stats.values()} == {"cancelled"}


def test_cancel_when_the_file_sink_starts_leaves_no_file(tmp_path, recorder):
    # given a big input and a cancel raised as the sink starts
    source = big_source(tmp_path)
    out = tmp_path / "out.parquet"
    recorder.ctx.on_step_start = lambda sid: sid == "output" and recorder.ctx.cancel.set()
    # when
    with pytest.raises(Cancelled):
        execute_steps(
            steps(CLEAN, {"path": str(out)}), MappingResolver({"ds_in": (source, SCHEMA)}),
            recorder.ctx, recorder.policy,
        )
    # then nothing was written, not even a temp file
    assert sorted(os.listdir(tmp_path)) == ["big.csv"]


def test_a_cancel_set_before_the_run_starts_runs_no_step(tmp_path, recorder):
    # given
    source = write_customers(str(tmp_path / "in.csv"), "csv")
    recorder.ctx.cancel.set()
    # when / then
    with pytest.raises(Cancelled):
        execute_steps(
            steps(CLEAN, {"path": str(tmp_path / "o.csv")}),
            MappingResolver({"ds_in": (source, SCHEMA)}),
            recorder.ctx,
            recorder.policy,
        )
    assert recorder.events == []
