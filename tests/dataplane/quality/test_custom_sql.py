"""custom_sql: only one read-only condition is accepted, and it counts the same on every backend."""

from __future__ import annotations

import polars as pl
import pytest

from server.engine.dataplane.quality import check_select, evaluate_source
from server.engine.dataplane.quality.customsql import parse_condition

from .conftest import CUSTOMERS, FIELDS, check, local_policy


@pytest.mark.parametrize("condition", [
    "age >= 18 AND email IS NOT NULL",
    "SELECT * FROM customers WHERE amount < 0",
    "status IN ('active', 'pending') OR code IS NULL",
    "CASE WHEN age > 65 THEN amount <= 100 ELSE TRUE END",
    "LENGTH(TRIM(code)) = 2 AND ABS(amount) < 1000 AND COALESCE(age, 0) + 1 > 0",
    "code || '-' || status <> 'x'",
])
def test_a_read_only_condition_is_accepted(condition):
    assert check_select(condition) is None


@pytest.mark.parametrize(("condition", "reason"), [
    ("DELETE FROM customers", "DELETE is not allowed"),
    ("DROP TABLE customers", "not allowed"),
    ("UPDATE customers SET age = 1", "not allowed"),
    ("age > 1; DELETE FROM customers", "single expression or a single SELECT"),
    ("SELECT * FROM customers WHERE age > 1; SELECT 1", "single expression or a single SELECT"),
    ("SELECT age FROM customers WHERE age < 0", "select *"),
    ("SELECT * FROM customers WHERE age < 0 LIMIT 1", "found limit"),
    ("SELECT * FROM a JOIN b ON a.x = b.x WHERE 1 = 1", "found joins"),
    ("WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x WHERE 1 = 1", "found with"),
    ("SELECT * FROM customers", "needs a WHERE"),
    ("SELECT * FROM pg_catalog.pg_authid WHERE 1 = 1", "one table, the dataset"),
    ("age IN (SELECT age FROM other)", "not a subquery"),
    ("(SELECT COUNT(*) FROM other) > 0", "SUBQUERY is not allowed"),
    ("pg_sleep(10) IS NULL", "the function PG_SLEEP"),
    ("pg_read_file('/etc/passwd') = ''", "the function PG_READ_FILE"),
    ("email LIKE '%@x.io'", "LIKE is not allowed"),
    ("age / 2 > 10", "DIV is not allowed"),
    ("CAST(age AS TEXT) = '1'", "CAST"),
    ("other.age > 1", "must not be qualified"),
    ("", "non-empty"),
    ("age >", "does not parse"),
    (" OR ".join(["age = 1"] * 2_000), "Expression too large"),
    ("(" * 40 + "age > 1" + ")" * 40, "Expression too large"),
])
def test_anything_but_a_plain_condition_is_refused_before_any_database_sees_it(condition, reason):
    # when
    problem = check_select(condition)
    # then
    assert problem is not None and reason in problem


def test_a_condition_on_a_missing_column_is_an_error_outcome(tmp_path):
    # given
    path = str(tmp_path / "c.parquet")
    CUSTOMERS.write_parquet(path)
    spec = check("custom_sql", {"condition": "phone IS NOT NULL"})
    # when
    [outcome] = evaluate_source({"type": "file", "path": path}, [spec], policy=local_policy(str(tmp_path)),
                                schema_fields=FIELDS, references={}, sensitive=set())
    # then
    assert (outcome.status, outcome.error) == ("error", "config.condition: column 'phone' does not exist in the data")


def test_a_refused_condition_saved_by_hand_is_an_error_when_it_runs(place):
    # given a write smuggled into a rule that never went through the save-time check
    source = place.put(CUSTOMERS, "customers")
    spec = check("custom_sql", {"condition": "age > 1; DELETE FROM customers"})
    # when
    [outcome] = evaluate_source(source, [spec], policy=local_policy(place.folder), schema_fields=FIELDS,
                                references={}, sensitive=set())
    # then nothing ran, and every row is still there
    assert outcome.status == "error" and "single expression" in (outcome.error or "")
    [count] = evaluate_source(source, [check("row_count", {"min": 8})], policy=local_policy(place.folder),
                              schema_fields=FIELDS, references={}, sensitive=set())
    assert count.observed == 8


def test_quotes_and_backslashes_in_a_condition_read_the_same_on_every_backend(place):
    # given values with a backslash and a quote, and a condition naming them as literals
    frame = pl.DataFrame({"code": ["a\\b", "O'Brien", "x\\", "z", None]})
    source = place.put(frame, "codes")
    spec = check("custom_sql", {"condition": "code = 'a\\b' OR code = 'O''Brien' OR code = 'x\\'"})
    # when
    [outcome] = evaluate_source(source, [spec], policy=local_policy(place.folder), schema_fields=[],
                                references={}, sensitive=set())
    # then only 'z' fails, and the null is a null
    assert (outcome.rows_failed, outcome.nulls, [row["code"] for row in outcome.sample]) == (1, 1, ["z"])


def test_comments_of_a_condition_never_reach_a_database():
    # given a condition whose comments hold SQL
    condition = parse_condition("email = 'x' -- */ OR (SELECT 1 FROM pg_shadow) = 1 /*\n AND age > 1 /* x */")
    # then the SQL sent to each engine carries none of it
    for sql in (condition.sql("postgres"), condition.sql("sqlite"), condition.polars()):
        assert "/*" not in sql and "pg_shadow" not in sql
