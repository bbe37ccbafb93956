"""All or nothing per run: with several sinks, a failure anywhere leaves every destination as it was."""

from __future__ import annotations

import os

import polars as pl
import pytest

from server.engine.dataplane import Cancelled, MappingResolver, StepFailed, execute_steps

from .conftest import SCHEMA, pg_exec, pg_query, write_customers
from .test_pipeline_files import CLEAN, EXPECTED, sqlite_rows


def two_sinks(first: dict, second: dict) -> list[dict]:
    return [
        {"id": "input", "type": "data_source", "config": {"dataset_id": "ds_in"}},
        {"id": "clean", "type": "data_cleaner", "config": CLEAN},
        {"id": "first", "type": "data_sink", "config": first},
        {"id": "second", "type": "data_sink", "config": second},
    ]


def seeded_sqlite(path: str, table: str = "customers", columns: tuple[str, ...] = ("id", "name")) -> str:
    row = {"id": [7], "name": ["before"], "age": [1], "email": ["x"]}
    pl.DataFrame({c: row[c] for c in columns}).write_database(table, f"sqlite:///{path}", engine="adbc")
    return path


def sqlite_tables(db: str) -> list[str]:
    return sorted(sqlite_rows(db, "SELECT name FROM sqlite_master WHERE type = 'table'")["name"].to_list())


def test_a_failing_database_sink_leaves_the_file_of_the_first_sink_untouched(tmp_path, recorder):
    # given a file sink that already holds rows, then a sink on a connection nobody configured
    source = write_customers(str(tmp_path / "in.csv"), "csv")
    out = tmp_path / "out.csv"
    out.write_text("id\n7\n")
    resolve = MappingResolver({"ds_in": (source, SCHEMA)})
    # when
    with pytest.raises(StepFailed) as info:
        execute_steps(two_sinks({"path": str(out)}, {"destination": "warehouse.customers"}), resolve,
                      recorder.ctx, recorder.policy)
    # then the file is as it was, no temp file is left, and the error says its cause once
    assert info.value.step_id == "second"
    assert info.value.message == "unknown connection 'warehouse' (set DOCC_CONNECTION_WAREHOUSE)"
    assert out.read_text() == "id\n7\n"
    assert sorted(os.listdir(tmp_path)) == ["in.csv", "out.csv"]


def test_a_sink_that_cannot_be_published_keeps_the_first_sqlite_table(tmp_path, recorder):
    # given two SQLite databases; the second's table lacks the email column, so its swap fails at the end
    source = write_customers(str(tmp_path / "in.csv"), "csv")
    first = seeded_sqlite(str(tmp_path / "a.db"), columns=("id", "name", "age", "email"))
    second = seeded_sqlite(str(tmp_path / "b.db"))
    resolve = MappingResolver({"ds_in": (source, SCHEMA)},
                              {"a": f"sqlite:///{first}", "b": f"sqlite:///{second}"})
    # when
    with pytest.raises(StepFailed) as info:
        execute_steps(two_sinks({"destination": "a.customers"}, {"destination": "b.customers", "mode": "append"}),
                      resolve, recorder.ctx, recorder.policy)
    # then the second sink is named, both tables hold their old row, and no staging table is left
    assert info.value.step_id == "second" and "has no column named age" in info.value.message
    assert "\n" not in info.value.message and "INSERT INTO" not in info.value.message
    assert recorder.stats["second"].error == info.value.message
    assert sqlite_rows(first, "SELECT * FROM customers").rows() == [(7, "before", 1, "x")]
    assert sqlite_rows(second, "SELECT * FROM customers").rows() == [(7, "before")]
    assert sqlite_tables(first) == sqlite_tables(second) == ["customers"]


def test_two_sinks_into_one_sqlite_database_are_published_together(tmp_path, recorder):
    # given
    source = write_customers(str(tmp_path / "in.csv"), "csv")
    db = seeded_sqlite(str(tmp_path / "wh.db"))
    resolve = MappingResolver({"ds_in": (source, SCHEMA)}, {"wh": f"sqlite:///{db}"})
    # when
    execute_steps(two_sinks({"destination": "wh.copy_one"}, {"destination": "wh.copy_two"}), resolve,
                  recorder.ctx, recorder.policy)
    # then
    for table in ("copy_one", "copy_two"):
        assert sqlite_rows(db, f"SELECT * FROM {table} ORDER BY id").rows() == EXPECTED
    assert sqlite_tables(db) == ["copy_one", "copy_two", "customers"]


def test_a_refused_decision_discards_every_staged_write(tmp_path, recorder):
    # given a caller that says no when asked to publish (its job was cancelled meanwhile)
    source = write_customers(str(tmp_path / "in.csv"), "csv")
    db = seeded_sqlite(str(tmp_path / "wh.db"))
    out = tmp_path / "out.parquet"
    asked: list[list[dict]] = []
    recorder.ctx.prepare = lambda records: asked.append(records) or False
    resolve = MappingResolver({"ds_in": (source, SCHEMA)}, {"wh": f"sqlite:///{db}"})
    # when
    with pytest.raises(Cancelled):
        execute_steps(two_sinks({"path": str(out)}, {"destination": "wh.fresh"}), resolve,
                      recorder.ctx, recorder.policy)
    # then it was asked with both staged writes, named with the run's key, and nothing is visible or left
    key = recorder.ctx.job_key
    assert [(r["step"], r["kind"]) for r in asked[0]] == [("first", "file"), ("second", "table")]
    assert all(key in r["name"] for r in asked[0])
    assert sorted(os.listdir(tmp_path)) == ["in.csv", "wh.db"]
    assert sqlite_tables(db) == ["customers"]


def test_replace_keeps_the_sqlite_table_and_its_index(tmp_path, recorder):
    # given a table with an index and a view over it
    source = write_customers(str(tmp_path / "in.csv"), "csv")
    db = str(tmp_path / "wh.db")
    pl.DataFrame({"id": [7], "name": ["before"], "age": [1], "email": ["x"]}).write_database(
        "customers", f"sqlite:///{db}", engine="adbc")
    import sqlite3

    with sqlite3.connect(db) as conn:
        conn.execute("CREATE UNIQUE INDEX customers_id ON customers (id)")
        conn.execute("CREATE VIEW adults AS SELECT id FROM customers WHERE age >= 18")
    resolve = MappingResolver({"ds_in": (source, SCHEMA)}, {"wh": f"sqlite:///{db}"})
    # when
    execute_steps(two_sinks({"destination": "wh.customers"}, {"path": str(tmp_path / "o.csv")}), resolve,
                  recorder.ctx, recorder.policy)
    # then the rows are new, and the index and the view are still there
    assert sqlite_rows(db, "SELECT id, name, age, email FROM customers ORDER BY id").rows() == EXPECTED
    names = sqlite_rows(db, "SELECT name FROM sqlite_master WHERE type IN ('index', 'view') ORDER BY name")
    assert names["name"].to_list() == ["adults", "customers_id"]
    assert sqlite_rows(db, "SELECT id FROM adults ORDER BY id")["id"].to_list() == [1, 4]


@pytest.mark.parametrize("columns", [("email", "age", "name", "id"), ("id", "name", "age", "email", "note")])
def test_replace_into_a_table_whose_columns_differ_fills_them_by_name(tmp_path, recorder, columns):
    # given a kept table whose columns are in another order, or that has one more column than the rows
    import sqlite3

    source = write_customers(str(tmp_path / "in.csv"), "csv")
    db = str(tmp_path / "wh.db")
    with sqlite3.connect(db) as conn:
        declared = {"id": "INTEGER", "name": "TEXT", "age": "INTEGER", "email": "TEXT", "note": "TEXT"}
        conn.execute(f"CREATE TABLE customers ({', '.join(f'{c} {declared[c]}' for c in columns)})")
        conn.execute("INSERT INTO customers (id, name) VALUES (7, 'before')")
    resolve = MappingResolver({"ds_in": (source, SCHEMA)}, {"wh": f"sqlite:///{db}"})
    # when
    execute_steps(two_sinks({"destination": "wh.customers"}, {"path": str(tmp_path / "o.csv")}), resolve,
                  recorder.ctx, recorder.policy)
    # then every value is in its own column, and the table kept its column order
    assert sqlite_rows(db, "SELECT id, name, age, email FROM customers ORDER BY id").rows() == EXPECTED
    kept = sqlite_rows(db, "SELECT name FROM pragma_table_info('customers')")["name"].to_list()
    assert tuple(kept) == columns


def test_append_to_a_missing_table_creates_it_with_the_schema_types(tmp_path, recorder):
    # given
    source = write_customers(str(tmp_path / "in.csv"), "csv")
    db = str(tmp_path / "wh.db")
    resolve = MappingResolver({"ds_in": (source, SCHEMA)}, {"wh": f"sqlite:///{db}"})
    # when
    execute_steps(two_sinks({"destination": "wh.fresh", "mode": "append"}, {"path": str(tmp_path / "o.csv")}),
                  resolve, recorder.ctx, recorder.policy)
    # then
    rows = sqlite_rows(db, "SELECT id, name, age, email FROM fresh ORDER BY id")
    assert rows.rows() == EXPECTED and rows.schema["id"] == pl.Int64
    assert sqlite_tables(db) == ["fresh"]


def pg_staging(url: str) -> list[str]:
    return pg_query(url, "SELECT tablename FROM pg_tables WHERE tablename LIKE '\\_docc\\_staging\\_%'")[
        "tablename"].to_list()


def test_a_failing_second_sink_keeps_the_postgres_table_of_the_first(tmp_path, recorder, pg_url):
    # given a PostgreSQL table with a row, then a file sink whose directory does not exist
    pg_exec(pg_url, "DROP TABLE IF EXISTS kept", "CREATE TABLE kept (id int, name text)",
            "INSERT INTO kept VALUES (7, 'before')")
    source = write_customers(str(tmp_path / "in.csv"), "csv")
    resolve = MappingResolver({"ds_in": (source, SCHEMA)}, {"pg": pg_url})
    # when
    with pytest.raises(StepFailed) as info:
        execute_steps(two_sinks({"destination": "pg.kept"}, {"path": str(tmp_path / "missing" / "o.csv")}),
                      resolve, recorder.ctx, recorder.policy)
    # then
    assert info.value.step_id == "second"
    assert pg_query(pg_url, "SELECT id, name FROM kept").rows() == [(7, "before")]
    assert pg_staging(pg_url) == []


def test_a_postgres_swap_that_fails_keeps_both_postgres_tables(tmp_path, recorder, pg_url):
    # given the first table ready, the second one refusing the rows (a NOT NULL column they do not fill)
    pg_exec(pg_url, "DROP TABLE IF EXISTS one_t", "DROP TABLE IF EXISTS two_t",
            "CREATE TABLE one_t (id int, name text, age int, email text)", "INSERT INTO one_t VALUES (7, 'a', 1, 'x')",
            "CREATE TABLE two_t (id int, name text, age int, email text, region text NOT NULL)",
            "INSERT INTO two_t VALUES (7, 'a', 1, 'x', 'eu')")
    source = write_customers(str(tmp_path / "in.csv"), "csv")
    resolve = MappingResolver({"ds_in": (source, SCHEMA)}, {"pg": pg_url})
    # when
    with pytest.raises(StepFailed) as info:
        execute_steps(two_sinks({"destination": "pg.one_t"}, {"destination": "pg.two_t"}), resolve,
                      recorder.ctx, recorder.policy)
    # then
    assert info.value.step_id == "second" and "region" in info.value.message
    assert pg_query(pg_url, "SELECT id FROM one_t").rows() == [(7,)]
    assert pg_query(pg_url, "SELECT id FROM two_t").rows() == [(7,)]
    assert pg_staging(pg_url) == []


def test_replace_keeps_the_postgres_table_its_index_grant_and_view(tmp_path, recorder, pg_url):
    # given a table with a unique index, a grant to a role and a view over it
    pg_exec(pg_url, "DROP VIEW IF EXISTS adults", "DROP TABLE IF EXISTS people",
            "CREATE TABLE people (id int PRIMARY KEY, name text, age int, email text)",
            "CREATE UNIQUE INDEX people_email ON people (email)",
            "INSERT INTO people VALUES (7, 'before', 50, 'old@x.io')",
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'docc_reader') "
            "THEN CREATE ROLE docc_reader; END IF; END $$",
            "GRANT SELECT ON people TO docc_reader",
            "CREATE VIEW adults AS SELECT id FROM people WHERE age >= 18")
    oid = pg_query(pg_url, "SELECT 'people'::regclass::oid::bigint AS oid")["oid"].item()
    source = write_customers(str(tmp_path / "in.csv"), "csv")
    resolve = MappingResolver({"ds_in": (source, SCHEMA)}, {"pg": pg_url})
    # when
    execute_steps(two_sinks({"destination": "pg.people"}, {"path": str(tmp_path / "o.csv")}), resolve,
                  recorder.ctx, recorder.policy)
    # then the same table holds the new rows, with its index, its grant and its view
    assert pg_query(pg_url, "SELECT id, name, age, email FROM people ORDER BY id").rows() == EXPECTED
    assert pg_query(pg_url, "SELECT 'people'::regclass::oid::bigint AS oid")["oid"].item() == oid
    indexes = pg_query(pg_url, "SELECT indexname FROM pg_indexes WHERE tablename = 'people' ORDER BY 1")
    assert indexes["indexname"].to_list() == ["people_email", "people_pkey"]
    granted = pg_query(pg_url, "SELECT has_table_privilege('docc_reader', 'people', 'SELECT') AS ok")
    assert granted["ok"].item() is True
    assert pg_query(pg_url, "SELECT id FROM adults ORDER BY id")["id"].to_list() == [1, 4]
    assert pg_staging(pg_url) == []


def _root(db: str, table: str = "customers") -> int:
    return sqlite_rows(db, f"SELECT rootpage FROM sqlite_master WHERE name = '{table}'")["rootpage"][0]


def test_replace_swaps_a_plain_sqlite_table_instead_of_copying(tmp_path, recorder):
    # given a table an earlier run created: nothing but its rows tells it from the next run's staging table
    source = write_customers(str(tmp_path / "in.csv"), "csv")
    db = str(tmp_path / "wh.db")
    resolve = MappingResolver({"ds_in": (source, SCHEMA)}, {"wh": f"sqlite:///{db}"})
    steps = two_sinks({"destination": "wh.customers"}, {"path": str(tmp_path / "o.csv")})
    execute_steps(steps, resolve, recorder.ctx, recorder.policy)
    before = _root(db)
    # when
    execute_steps(steps, resolve, recorder.ctx, recorder.policy)
    # then the staged table took its place (another b-tree), with the same rows and nothing left over
    assert _root(db) != before
    assert sqlite_rows(db, "SELECT id, name, age, email FROM customers ORDER BY id").rows() == EXPECTED
    assert sqlite_tables(db) == ["customers"]


@pytest.mark.parametrize("naming", [
    "CREATE INDEX customers_name ON customers (name)",
    "CREATE VIEW named AS SELECT name FROM customers",
    "CREATE TABLE audit (n INTEGER); CREATE TRIGGER counted AFTER INSERT ON audit "
    "BEGIN SELECT COUNT(*) FROM customers; END",
    "CREATE TABLE orders (customer INTEGER REFERENCES customers (id))",
])
def test_replace_copies_into_a_sqlite_table_that_something_names(tmp_path, recorder, naming):
    # given a table an earlier run created, then an index, view, trigger or foreign key that names it
    import sqlite3

    source = write_customers(str(tmp_path / "in.csv"), "csv")
    db = str(tmp_path / "wh.db")
    resolve = MappingResolver({"ds_in": (source, SCHEMA)}, {"wh": f"sqlite:///{db}"})
    steps = two_sinks({"destination": "wh.customers"}, {"path": str(tmp_path / "o.csv")})
    execute_steps(steps, resolve, recorder.ctx, recorder.policy)
    with sqlite3.connect(db) as conn:
        conn.executescript(naming)
    before = _root(db)
    schema = sqlite_rows(db, "SELECT name, sql FROM sqlite_master ORDER BY name").rows()
    # when
    execute_steps(steps, resolve, recorder.ctx, recorder.policy)
    # then the table is the same one, its rows replaced, and every object naming it is as it was
    assert _root(db) == before
    assert sqlite_rows(db, "SELECT id, name, age, email FROM customers ORDER BY id").rows() == EXPECTED
    assert sqlite_rows(db, "SELECT name, sql FROM sqlite_master ORDER BY name").rows() == schema


def test_replace_copies_into_a_sqlite_table_declared_otherwise(tmp_path, recorder):
    # given a table with the same columns but declared by hand (other types, a constraint)
    import sqlite3

    source = write_customers(str(tmp_path / "in.csv"), "csv")
    db = str(tmp_path / "wh.db")
    declared = 'CREATE TABLE "customers" ("id" INT NOT NULL, "name" TEXT, "age" INTEGER, "email" TEXT)'
    with sqlite3.connect(db) as conn:
        conn.execute(declared)
    resolve = MappingResolver({"ds_in": (source, SCHEMA)}, {"wh": f"sqlite:///{db}"})
    # when
    execute_steps(two_sinks({"destination": "wh.customers"}, {"path": str(tmp_path / "o.csv")}), resolve,
                  recorder.ctx, recorder.policy)
    # then the declaration is the one the user wrote
    assert sqlite_rows(db, "SELECT sql FROM sqlite_master WHERE name = 'customers'")["sql"][0] == declared
    assert sqlite_rows(db, "SELECT id, name, age, email FROM customers ORDER BY id").rows() == EXPECTED


def test_a_swapped_table_comes_back_when_another_sink_fails(tmp_path, recorder):
    # given a plain table an earlier run created, then a run whose second sink cannot be published
    import sqlite3

    source = write_customers(str(tmp_path / "in.csv"), "csv")
    db = str(tmp_path / "wh.db")
    other = seeded_sqlite(str(tmp_path / "b.db"))
    resolve = MappingResolver({"ds_in": (source, SCHEMA)}, {"wh": f"sqlite:///{db}", "b": f"sqlite:///{other}"})
    execute_steps(two_sinks({"destination": "wh.customers"}, {"path": str(tmp_path / "o.csv")}), resolve,
                  recorder.ctx, recorder.policy)
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM customers WHERE id > 1")
    before = _root(db)
    # when
    with pytest.raises(StepFailed):
        execute_steps(two_sinks({"destination": "wh.customers"}, {"destination": "b.customers", "mode": "append"}),
                      resolve, recorder.ctx, recorder.policy)
    # then the first table is the one it was, with its one row, and no staging table is left
    assert _root(db) == before
    assert sqlite_rows(db, "SELECT id FROM customers").rows() == [(1,)]
    assert sqlite_tables(db) == ["customers"]


def _pg_oid(url: str, table: str = "plain") -> int:
    return pg_query(url, f"SELECT '{table}'::regclass::oid::bigint AS oid")["oid"].item()


def _pg_run_twice(tmp_path, recorder, pg_url, *between: str) -> tuple[int, int]:
    """Run a one-table pipeline into pg.plain, run `between`, run it again: the table's oid before and after."""
    source = write_customers(str(tmp_path / "in.csv"), "csv")
    resolve = MappingResolver({"ds_in": (source, SCHEMA)}, {"pg": pg_url})
    steps = two_sinks({"destination": "pg.plain"}, {"path": str(tmp_path / "o.csv")})
    execute_steps(steps, resolve, recorder.ctx, recorder.policy)
    if between:
        pg_exec(pg_url, *between)
    before = _pg_oid(pg_url)
    execute_steps(steps, resolve, recorder.ctx, recorder.policy)
    assert pg_query(pg_url, "SELECT id, name, age, email FROM plain ORDER BY id").rows() == EXPECTED
    assert pg_staging(pg_url) == []
    return before, _pg_oid(pg_url)


def test_replace_swaps_a_plain_postgres_table_instead_of_copying(tmp_path, recorder, pg_url):
    # given a table an earlier run created / when the next run replaces it
    before, after = _pg_run_twice(tmp_path, recorder, pg_url)
    # then the staged table took its place
    assert after != before


@pytest.mark.parametrize("naming", [
    "CREATE INDEX plain_name ON plain (name)",
    "CREATE VIEW named AS SELECT name FROM plain",
    "COMMENT ON TABLE plain IS 'kept by hand'",
    "GRANT SELECT ON plain TO PUBLIC",
    "ALTER TABLE plain ALTER COLUMN name SET DEFAULT 'n/a'",
    "ALTER TABLE plain ADD CONSTRAINT plain_id CHECK (id > 0)",
    ("CREATE TABLE orders (customer bigint)", "ALTER TABLE plain ADD PRIMARY KEY (id)",
     "ALTER TABLE orders ADD FOREIGN KEY (customer) REFERENCES plain (id)"),
    "ALTER TABLE plain SET (fillfactor = 90)",
    "CREATE TABLE child () INHERITS (plain)",
])
def test_replace_copies_into_a_postgres_table_that_something_names(tmp_path, recorder, pg_url, naming):
    # given a table an earlier run created, then something that names it or makes it more than its rows
    # when / then: the same table, its rows replaced
    statements = naming if isinstance(naming, tuple) else (naming,)
    before, after = _pg_run_twice(tmp_path, recorder, pg_url, *statements)
    assert after == before


def test_a_swapped_postgres_table_comes_back_when_another_sink_fails(tmp_path, recorder, pg_url):
    # given a plain table an earlier run created, then a run whose second sink's directory is missing
    source = write_customers(str(tmp_path / "in.csv"), "csv")
    resolve = MappingResolver({"ds_in": (source, SCHEMA)}, {"pg": pg_url})
    execute_steps(two_sinks({"destination": "pg.plain"}, {"path": str(tmp_path / "o.csv")}), resolve,
                  recorder.ctx, recorder.policy)
    pg_exec(pg_url, "DELETE FROM plain WHERE id > 1")
    before = _pg_oid(pg_url)
    # when
    with pytest.raises(StepFailed):
        execute_steps(two_sinks({"destination": "pg.plain"}, {"path": str(tmp_path / "missing" / "o.csv")}),
                      resolve, recorder.ctx, recorder.policy)
    # then
    assert _pg_oid(pg_url) == before
    assert pg_query(pg_url, "SELECT id FROM plain").rows() == [(1,)]
    assert pg_staging(pg_url) == []


@pytest.mark.parametrize("setting", ["ALTER TABLE plain ALTER COLUMN id SET (n_distinct = -0.5)",
                                     "ALTER TABLE plain ALTER COLUMN id SET STATISTICS 500"])
def test_replace_copies_into_a_postgres_table_with_column_settings(tmp_path, recorder, pg_url, setting):
    # given a table an earlier run created, then a planner setting on one of its columns
    # when / then: the setting is kept, so the table is
    before, after = _pg_run_twice(tmp_path, recorder, pg_url, setting)
    assert after == before
