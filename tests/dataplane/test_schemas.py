"""Files are read with the dataset's schema; without one, types come from the whole file."""

from __future__ import annotations

import polars as pl
import pytest

from server.engine.dataplane import MappingResolver, StepFailed, execute_steps

ROWS = 50_000
SURPRISE = 49_990  # Far past any sample a reader might guess types from.
SCHEMA = {"fields": [{"name": "id", "type": "bigint"}, {"name": "score", "type": "double"},
                     {"name": "label", "type": "string"}]}


def late_surprise(path: str, value: str) -> dict:
    """A 50,000-row CSV whose `score` column holds integers, but for one value near the end."""
    frame = pl.DataFrame({"id": range(ROWS), "label": [f"row {i}" for i in range(ROWS)]}).with_columns(
        pl.when(pl.col("id") == SURPRISE).then(pl.lit(value)).otherwise(pl.col("id").cast(pl.String)).alias("score"))
    frame.select("id", "score", "label").write_csv(path)
    return {"type": "file", "path": path, "format": "csv"}


def copy_steps(out: str) -> list[dict]:
    return [{"id": "input", "type": "data_source", "config": {"dataset_id": "ds"}},
            {"id": "output", "type": "data_sink", "config": {"path": out}}]


def test_a_late_value_that_does_not_fit_the_schema_names_file_line_and_column(tmp_path, recorder):
    # given a declared double column holding "n/a" on line 49,992 of the file
    path = str(tmp_path / "in.csv")
    resolve = MappingResolver({"ds": (late_surprise(path, "n/a"), SCHEMA)})
    # when
    with pytest.raises(StepFailed) as info:
        execute_steps(copy_steps(str(tmp_path / "out.parquet")), resolve, recorder.ctx, recorder.policy)
    # then the source step fails, saying where, and nothing was written
    assert info.value.step_id == "input"
    assert info.value.message == f"{path}: line {SURPRISE + 2}, column 'score': 'n/a' is not a valid Float64"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_a_late_value_that_fits_the_schema_is_read_with_its_type(tmp_path, recorder):
    # given a declared double column of integers but one decimal near the end
    resolve = MappingResolver({"ds": (late_surprise(str(tmp_path / "in.csv"), "2.5"), SCHEMA)})
    out = tmp_path / "out.parquet"
    # when
    execute_steps(copy_steps(str(out)), resolve, recorder.ctx, recorder.policy)
    # then every row is there, typed as the schema says
    written = pl.read_parquet(out)
    assert written.height == ROWS and written.schema["score"] == pl.Float64 and written.schema["id"] == pl.Int64
    assert written.filter(pl.col("id") == SURPRISE)["score"].item() == 2.5


@pytest.mark.parametrize(("value", "dtype", "read"), [("unknown", pl.String, "unknown"), ("2.5", pl.Float64, 2.5)])
def test_without_a_schema_a_late_surprise_never_fails_a_valid_row(tmp_path, recorder, value, dtype, read):
    # given no schema, and a column of integers holding a word (or a decimal) near the end
    resolve = MappingResolver({"ds": (late_surprise(str(tmp_path / "in.csv"), value), {})})
    out = tmp_path / "out.parquet"
    # when
    execute_steps(copy_steps(str(out)), resolve, recorder.ctx, recorder.policy)
    # then the column was widened, every row arrived, and nothing of the first try was left behind
    written = pl.read_parquet(out)
    assert written.height == ROWS and written.schema["score"] == dtype and written.schema["id"] == pl.Int64
    assert written.filter(pl.col("id") == SURPRISE)["score"].item() == read
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.parquet"]
    assert any(level == "warning" and f"column 'score' holds {value!r}" in message
               for level, _, message in recorder.logs)


def test_padding_around_a_declared_number_is_not_a_misfit(tmp_path, recorder):
    # given
    path = tmp_path / "in.csv"
    path.write_text("id,score,label\n 1 , 2.5 , a \n")
    out = tmp_path / "out.parquet"
    # when
    execute_steps(copy_steps(str(out)), MappingResolver({"ds": ({"type": "file", "path": str(path)}, SCHEMA)}),
                  recorder.ctx, recorder.policy)
    # then numbers are parsed, text keeps its padding for the cleaner's trim to decide
    assert pl.read_parquet(out).rows() == [(1, 2.5, " a ")]
