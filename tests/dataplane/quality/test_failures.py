"""Checks that cannot run give an 'error' outcome with the reason; samples are capped and masked."""

from __future__ import annotations

import os

import polars as pl
import pytest

from server.engine.dataplane.quality import evaluate_frame, evaluate_source

from .conftest import CUSTOMERS, FIELDS, check, local_policy


def run_on(source: dict, specs: list, folder: str, **policy_values) -> list:
    policy = local_policy(folder, **policy_values)
    return evaluate_source(source, specs, policy=policy, schema_fields=FIELDS, references={}, sensitive=set())


@pytest.fixture
def parquet(tmp_path) -> dict:
    path = os.path.join(os.path.realpath(tmp_path), "customers.parquet")
    CUSTOMERS.write_parquet(path)
    return {"type": "file", "path": path}


@pytest.mark.parametrize(("spec", "reason"), [
    (check("not_null", {"column": "email"}, threshold=1.5), "threshold: must be a number from 0 to 1"),
    (check("no_such_rule", {}), "rule_type: unknown rule type 'no_such_rule'"),
    (check("range", {"column": "status", "min": 1}), "range needs a number, date or timestamp column"),
    (check("range", {"column": "age"}), "min, max or both are required"),
    (check("range", {"column": "age", "min": 5, "max": 1}), "config.min: must not be greater than max"),
    (check("range", {"column": "age", "min": float("nan")}), "config.min: must be finite"),
    (check("range", {"column": "ts", "min": "yesterday"}), "config.min: an ISO date or timestamp is required"),
    (check("range", {"column": "ts", "max": 5}), "config.max: an ISO date or timestamp is required"),
    (check("range", {"column": "age", "min": "2024-01-01"}), "config.min: must be a number"),
    (check("regex_match", {"column": "email", "pattern": "(?=x)"}), "config.pattern: (? groups"),
    (check("regex_match", {"column": "amount", "pattern": "1"}), "needs a text or integer column"),
    (check("accepted_values", {"column": "age", "values": ["thirty"]}), "config.values[0]: 'thirty' does not fit"),
    (check("accepted_values", {"column": "status", "values": []}), "a list of 1 to 1000 values"),
    (check("accepted_values", {"column": "status", "values": ["x" * 9_990 + f"{i:02}" for i in range(11)]}),
     "config.values: longer than 100000 characters in all"),
    (check("accepted_values", {"column": "status", "values": ["x" * 10_001]}), "does not fit a string column"),
    (check("length", {"column": "email", "min": -1}), "config.min: must not be negative"),
    (check("freshness", {"column": "ts", "max_age": "soon"}), "config.max_age: a positive duration"),
    (check("freshness", {"column": "age", "max_age": "1h"}), "needs a timestamp or date column"),
    (check("unique", {"columns": []}), "config.columns: a list of 1 to 16"),
    (check("referential", {"column": "code", "dataset_id": "ds_gone", "ref_column": "code"}),
     "the referenced dataset 'ds_gone' is not available"),
    (check("custom_sql", {}), "config.condition: the condition must be a non-empty string"),
    (check("not_null", {"column": 7}), "config.column: a column name is required"),
    (check("not_null", "column"), "config: must be an object"),
])
def test_a_config_that_cannot_run_is_an_error_outcome(parquet, spec, reason):
    # when
    [outcome] = run_on(parquet, [spec], os.path.dirname(parquet["path"]))
    # then
    assert outcome.status == "error"
    assert reason in (outcome.error or "")
    assert (outcome.pass_ratio, outcome.rows_checked, outcome.sample) == (None, 0, [])


def test_a_file_outside_the_roots_or_missing_fails_every_check(parquet, tmp_path):
    # given two rules, and a policy whose only root is elsewhere
    specs = [check("row_count", {"min": 0}), check("not_null", {"column": "id"})]
    elsewhere = str(tmp_path / "elsewhere")
    # when
    outside = run_on(parquet, specs, elsewhere)
    folder = os.path.dirname(parquet["path"])
    missing = run_on({"type": "file", "path": parquet["path"] + ".gone"}, specs, folder)
    missing += run_on({"type": "file", "path": os.path.join(folder, "gone.jsonl")}, specs, folder)
    # then no check passes silently
    assert [o.status for o in outside + missing] == ["error"] * 6
    assert "outside the allowed file roots" in (outside[0].error or "")
    assert missing[0].error


def test_the_servers_own_database_is_refused(tmp_path):
    # given an SQLite file that the policy protects as the server's own
    db = os.path.join(os.path.realpath(tmp_path), "docc.db")
    pl.DataFrame({"id": [1]}).write_database("t", f"sqlite:///{db}", engine="adbc")
    source = {"type": "database", "connection": f"sqlite:///{db}", "table": "t"}
    # when
    [outcome] = run_on(source, [check("row_count", {"min": 0})], os.path.realpath(tmp_path), protected_paths=(db,))
    # then
    assert outcome.status == "error" and "own files" in (outcome.error or "")


def test_an_unreachable_database_is_an_error_that_never_shows_the_password(tmp_path):
    # given a PostgreSQL URL with a password, on a port where nothing listens
    source = {"type": "database", "connection": "postgresql://bob:hunter2secret@127.0.0.1:1/db", "table": "t"}
    # when
    [outcome] = run_on(source, [check("row_count", {"min": 0})], os.path.realpath(tmp_path))
    # then
    assert outcome.status == "error"
    assert "hunter2secret" not in (outcome.error or "")


def test_a_missing_table_is_an_error(tmp_path):
    db = os.path.join(os.path.realpath(tmp_path), "data.db")
    pl.DataFrame({"id": [1]}).write_database("t", f"sqlite:///{db}", engine="adbc")
    source = {"type": "database", "connection": f"sqlite:///{db}", "table": "nope"}
    [outcome] = run_on(source, [check("not_null", {"column": "id"})], os.path.realpath(tmp_path))
    assert (outcome.status, outcome.error) == ("error", "table 'nope' does not exist")


def test_hostile_names_and_values_are_data_not_sql(place):
    # given a column whose name tries to close the quoting, and values with quotes and backslashes
    # (Polars' CSV reader keeps a doubled quote of a header as two quotes, so CSV gets the single-quote name)
    name = "a'; DROP TABLE customers; --" if place.backend == "csv" else 'a"; DROP TABLE customers; --'
    frame = pl.DataFrame({"id": [1, 2, 3, 4], name: ["O'Brien", "x\\' OR 1=1 --", None, "plain"]})
    source = place.put(frame, "customers")
    specs = [check("not_null", {"column": name}),
             check("accepted_values", {"column": name, "values": ["O'Brien", "x\\' OR 1=1 --"]}),
             check("row_count", {"min": 4, "max": 4})]
    # when
    outcomes = evaluate_source(source, specs, policy=local_policy(place.folder), schema_fields=[],
                               references={}, sensitive=set())
    # then the counts are those of the data, and the table is still there
    assert [(o.status, o.rows_failed, o.nulls) for o in outcomes] == [
        ("failed", 1, 1), ("failed", 1, 1), ("passed", 0, 0)]


def test_the_sample_holds_at_most_20_failing_rows_with_sensitive_columns_and_secrets_masked(place):
    # given 50 failing rows, each with a sensitive email and a note holding a connection string
    frame = pl.DataFrame({"id": list(range(60)), "email": [f"u{i}@x.io" for i in range(60)],
                          "note": ["postgresql://app:s3cr3tpw@db.internal/prod"] * 60,
                          "age": [5] * 50 + [30] * 10})
    source = place.put(frame, "people")
    spec = check("range", {"column": "age", "min": 18})
    # when
    [outcome] = evaluate_source(source, [spec], policy=local_policy(place.folder), schema_fields=[],
                                references={}, sensitive={"email"})
    # then
    assert (outcome.status, outcome.rows_failed) == ("failed", 50)
    assert len(outcome.sample) == 20
    assert {row["email"] for row in outcome.sample} == {"***"}
    assert all("s3cr3tpw" not in row["note"] for row in outcome.sample)
    assert {row["age"] for row in outcome.sample} == {5}


def test_a_passing_check_has_no_sample(place):
    source = place.put(CUSTOMERS, "customers")
    [outcome] = evaluate_source(source, [check("not_null", {"column": "id"})],
                                policy=local_policy(place.folder), schema_fields=FIELDS, references={},
                                sensitive=set())
    assert (outcome.status, outcome.sample) == ("passed", [])


def test_a_pipeline_frame_is_checked_and_a_reference_needs_a_policy():
    # given the data flowing through a pipeline step
    frame = CUSTOMERS.lazy().filter(pl.col("age") > 20)
    specs = [check("range", {"column": "age", "max": 120}), check("row_count", {"min": 1}),
             check("referential", {"column": "code", "dataset_id": "ds_codes", "ref_column": "code"})]
    # when
    outcomes = evaluate_frame(frame, specs, schema_fields=FIELDS, sensitive=set(),
                              references={"ds_codes": {"type": "file", "path": "/nowhere/codes.csv"}})
    # then
    assert [(o.status, o.rows_checked, o.rows_failed) for o in outcomes[:2]] == [("failed", 6, 1), ("passed", 6, 0)]
    assert outcomes[2].status == "error" and "cannot be read here" in (outcomes[2].error or "")


def test_a_reference_in_another_backend_is_read_through_the_policy(place):
    # given customers in one backend and the referenced codes in a CSV file
    source = place.put(CUSTOMERS, "customers")
    codes = os.path.join(place.folder, "codes_ref.csv")
    pl.DataFrame({"code": ["A1", "A2", "B1"]}).write_csv(codes)
    spec = check("referential", {"column": "code", "dataset_id": "ds_codes", "ref_column": "code"})
    # when the file is inside the roots, then when it is not
    inside = evaluate_source(source, [spec], policy=local_policy(place.folder), schema_fields=FIELDS,
                             references={"ds_codes": {"type": "file", "path": codes}}, sensitive=set())
    passwd = {"type": "file", "path": "/etc/passwd", "format": "csv"}
    outside = evaluate_source(source, [spec], policy=local_policy(place.folder), schema_fields=FIELDS,
                              references={"ds_codes": passwd}, sensitive=set())
    # then
    assert (inside[0].status, inside[0].rows_failed, inside[0].nulls) == ("failed", 2, 1)
    assert outside[0].status == "error" and "outside the allowed file roots" in (outside[0].error or "")


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_the_sample_of_a_large_file_finds_failures_past_the_first_windows(tmp_path, fmt):
    # given 600,000 rows where only the last 30 fail, and duplicates far apart
    rows = 600_000
    frame = pl.DataFrame({"id": list(range(rows)), "age": [30] * (rows - 30) + [5] * 30,
                          "key": [0, *range(1, rows - 1), 0]})
    path = os.path.join(os.path.realpath(tmp_path), f"big.{fmt}")
    frame.write_parquet(path) if fmt == "parquet" else frame.write_csv(path)
    specs = [check("range", {"column": "age", "min": 18}), check("unique", {"column": "key"})]
    # when
    ranged, unique = run_on({"type": "file", "path": path}, specs, os.path.realpath(tmp_path))
    # then the sample holds the first 20 failing rows, and both far-apart duplicates are found
    assert (ranged.rows_failed, [row["id"] for row in ranged.sample]) == (30, list(range(rows - 30, rows - 10)))
    assert (unique.rows_failed, sorted(row["id"] for row in unique.sample)) == (2, [0, rows - 1])


def test_postgresql_types_without_an_arrow_twin_come_back_as_text_in_the_sample(pg_url, tmp_path):
    # given a table with an interval, a point, a range and json beside the checked number
    import adbc_driver_postgresql.dbapi as pg_dbapi

    with pg_dbapi.connect(pg_url) as db, db.cursor() as cur:
        cur.execute("CREATE TABLE odd_types (n int, i interval, p point, r int4range, j json)")
        cur.execute("INSERT INTO odd_types VALUES (1, '1 day', point(1,2), int4range(1,3), '{\"a\":1}'), "
                    "(5, '2 hours', point(0,0), int4range(2,4), '[1]'), (NULL, NULL, NULL, NULL, NULL)")
        db.commit()
    source = {"type": "database", "connection": pg_url, "table": "odd_types"}
    # when
    [outcome] = run_on(source, [check("range", {"column": "n", "max": 2})], os.path.realpath(tmp_path))
    # then
    assert (outcome.status, outcome.rows_failed, outcome.nulls) == ("failed", 1, 1)
    assert outcome.sample == [{"n": 5, "i": "02:00:00", "p": "(0,0)", "r": "[2,4)", "j": "[1]"}]


@pytest.mark.parametrize("place", ["sqlite", "postgres"], indirect=True)
def test_the_connection_of_a_check_cannot_write_even_if_asked(place):
    # given a table, opened the way checks open it
    from server.engine.dataplane.quality.sqlroad import Table

    source = place.put(CUSTOMERS, "customers")
    table = Table(local_policy(place.folder), source)
    # when a write reaches it anyway
    try:
        with pytest.raises(Exception, match=r"(?i)read-?only|readonly"):
            table.query(f"DELETE FROM {table.ref}")
        rows = table.query(f"SELECT COUNT(*) FROM {table.ref}")
    finally:
        table.close()
    # then it is refused and every row is still there
    assert rows == [(8,)]


def test_a_rule_that_fails_while_counting_does_not_spoil_the_rules_counted_with_it(parquet):
    # given rules counted together in one pass, one of which compares text with a number
    specs = [check("not_null", {"column": "email"}), check("custom_sql", {"condition": "status > 5"}),
             check("range", {"column": "age", "min": 18, "max": 120})]
    # when
    outcomes = run_on(parquet, specs, os.path.dirname(parquet["path"]))
    # then the bad rule is an error and the others are counted as if alone
    assert [(o.status, o.rows_failed, o.nulls) for o in outcomes] == [
        ("failed", 2, 2), ("error", 0, 0), ("failed", 2, 1)]
    assert outcomes[1].error
