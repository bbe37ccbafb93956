"""PostgreSQL as source and sink (skipped unless DOCC_TEST_POSTGRES_URL is set)."""

from __future__ import annotations

import pytest

from server.engine.dataplane import Cancelled, MappingResolver, StepFailed, execute_steps

from .conftest import SCHEMA, pg_exec, pg_query, write_customers
from .test_atomicity import big_source
from .test_pipeline_files import CLEAN, EXPECTED, steps


def staging_tables(url: str) -> list[str]:
    return pg_query(url, "SELECT tablename FROM pg_tables WHERE tablename LIKE '_docc_staging_%'")[
        "tablename"
    ].to_list()


def test_csv_is_cleaned_into_a_schema_qualified_table(tmp_path, recorder, pg_url):
    # given
    pg_exec(pg_url, "CREATE SCHEMA IF NOT EXISTS sales", "DROP TABLE IF EXISTS sales.customers")
    source = write_customers(str(tmp_path / "in.csv"), "csv")
    resolve = MappingResolver({"ds_in": (source, SCHEMA)}, {"warehouse": pg_url})
    # when
    execute_steps(steps(CLEAN, {"destination": "warehouse.sales.customers"}), resolve, recorder.ctx, recorder.policy)
    # then the rows are there with the schema's types
    rows = pg_query(pg_url, "SELECT id, name, age, email FROM sales.customers ORDER BY id")
    assert rows.rows() == EXPECTED
    types = pg_query(
        pg_url,
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'sales' AND table_name = 'customers' ORDER BY ordinal_position",
    )
    assert types.rows() == [("id", "integer"), ("name", "text"), ("age", "integer"), ("email", "text")]


def test_append_then_replace(tmp_path, recorder, pg_url):
    # given
    pg_exec(pg_url, "DROP TABLE IF EXISTS modes")
    source = write_customers(str(tmp_path / "in.parquet"), "parquet")
    resolve = MappingResolver({"ds_in": (source, SCHEMA)}, {"warehouse": pg_url})
    # when
    for _ in range(2):
        execute_steps(
            steps(CLEAN, {"destination": "warehouse.modes", "mode": "append"}), resolve, recorder.ctx, recorder.policy
        )
    appended = pg_query(pg_url, "SELECT id FROM modes ORDER BY id")["id"].to_list()
    execute_steps(steps(CLEAN, {"destination": "warehouse.modes"}), resolve, recorder.ctx, recorder.policy)
    # then
    assert appended == [1, 1, 4, 4]
    assert pg_query(pg_url, "SELECT id FROM modes ORDER BY id")["id"].to_list() == [1, 4]
    assert staging_tables(pg_url) == []


def test_a_table_source_pushes_projection_and_filter_down(tmp_path, recorder, pg_url):
    # given a table with a numeric column, read through a filtered, projected data_source
    pg_exec(
        pg_url,
        "DROP TABLE IF EXISTS orders",
        "CREATE TABLE orders (id int, amount numeric(10,2), note text, secret text)",
        "INSERT INTO orders SELECT g, g / 4.0, CASE WHEN g % 2 = 0 THEN ' even ' END, 'x' "
        "FROM generate_series(1, 10) g",
    )
    source = {"type": "database", "connection": pg_url, "table": "orders"}
    schema = {
        "fields": [
            {"name": "id", "type": "bigint"},
            {"name": "amount", "type": "decimal", "precision": 10, "scale": 2},
            {"name": "note", "type": "string"},
        ]
    }
    out = tmp_path / "out.parquet"
    pipeline = steps(
        {"trim": True, "cast": True},
        {"path": str(out)},
        source={"columns": ["id", "amount", "note"], "filter": "id > 6"},
    )
    # when
    result = execute_steps(pipeline, MappingResolver({"ds_in": (source, schema)}), recorder.ctx, recorder.policy)
    # then
    import polars as pl

    frame = pl.read_parquet(out)
    assert frame.columns == ["id", "amount", "note"]
    assert [(r[0], str(r[1]), r[2]) for r in frame.rows()] == [
        (7, "1.75", None),
        (8, "2.00", "even"),
        (9, "2.25", None),
        (10, "2.50", "even"),
    ]
    assert result.steps["input"].rows_out == 4


def test_a_failing_step_keeps_the_pg_table_and_drops_staging(tmp_path, recorder, pg_url):
    # given an integer id column in the target and dates staged for it, so the final INSERT fails
    pg_exec(
        pg_url,
        "DROP TABLE IF EXISTS keep",
        "CREATE TABLE keep (id int, name text, age int, email text)",
        "INSERT INTO keep VALUES (7, 'before', 1, 'b@x')",
    )
    source = write_customers(str(tmp_path / "in.csv"), "csv")
    resolve = MappingResolver({"ds_in": (source, SCHEMA)}, {"warehouse": pg_url})
    pipeline = steps({"cast": {"id": "date"}}, {"destination": "warehouse.keep", "mode": "append"})
    # when
    with pytest.raises(StepFailed) as info:
        execute_steps(pipeline, resolve, recorder.ctx, recorder.policy)
    # then
    assert info.value.step_id == "output"
    assert "date" in info.value.message
    assert pg_query(pg_url, "SELECT id, name FROM keep").rows() == [(7, "before")]
    assert staging_tables(pg_url) == []


def test_cancel_mid_write_keeps_the_pg_table(tmp_path, recorder, pg_url):
    # given
    pg_exec(pg_url, "DROP TABLE IF EXISTS big", "CREATE TABLE big (id int)", "INSERT INTO big VALUES (7)")
    resolve = MappingResolver({"ds_in": (big_source(tmp_path), SCHEMA)}, {"warehouse": pg_url})
    recorder.cancel_once_staged(batch_rows=10_000)
    # when
    with pytest.raises(Cancelled):
        execute_steps(steps(CLEAN, {"destination": "warehouse.big"}), resolve, recorder.ctx, recorder.policy)
    # then
    assert pg_query(pg_url, "SELECT id FROM big").rows() == [(7,)]
    assert staging_tables(pg_url) == []


def test_errors_never_show_the_password(tmp_path, recorder, pg_url):
    # given a connection with a wrong password to an unknown database
    bad_url = pg_url.rsplit("/", 1)[0].replace("://", "://postgres:hunter2@", 1) + "/no_such_db_here"
    source = write_customers(str(tmp_path / "in.csv"), "csv")
    resolve = MappingResolver({"ds_in": (source, SCHEMA)}, {"warehouse": bad_url})
    # when
    with pytest.raises(StepFailed) as info:
        execute_steps(steps(CLEAN, {"destination": "warehouse.t"}), resolve, recorder.ctx, recorder.policy)
    # then
    assert "hunter2" not in info.value.message
    assert all("hunter2" not in m for _, _, m in recorder.logs)
