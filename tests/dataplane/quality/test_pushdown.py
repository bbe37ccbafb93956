"""On a database table, the row rules and row_count of one run are counted by one aggregate query."""

from __future__ import annotations

import pytest

from server.engine.dataplane.quality import evaluate_source, sqlroad

from .conftest import CUSTOMERS, FIELDS, Place, check, local_policy
from .test_parity import FAILING, run, summary

# Rules the shared query counts on both databases (SQLite reads regex and date ranges through Polars).
SHARED = ["not_null", "unique", "accepted", "range", "range_open", "length", "row_count", "custom", "custom_select"]


@pytest.fixture
def queries(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every query the SQL road sends while the test runs."""
    sent: list[str] = []
    original = sqlroad.Table.query

    def counted(self, sql: str, params: tuple = ()) -> list[tuple]:
        sent.append(sql)
        return original(self, sql, params)

    monkeypatch.setattr(sqlroad.Table, "query", counted)
    return sent


@pytest.fixture(params=["sqlite", "postgres"])
def database(request, tmp_path) -> Place:
    pg_url = request.getfixturevalue("pg_url") if request.param == "postgres" else None
    return Place(request.param, str(tmp_path), pg_url)


def test_several_rules_on_a_table_are_counted_in_one_query_with_the_same_counts(database, queries):
    # given the sample customers in a database, and rules the shared query can count
    cases = {key: FAILING[key] for key in SHARED}
    # when they run together
    outcomes = run(database, CUSTOMERS, cases)
    # then one aggregate query counted them all, and each count is the one worked out by hand
    aggregates = [sql for sql in queries if sql.startswith("SELECT COUNT(*)")]
    assert len(aggregates) == 1, aggregates
    for key, (_, expected) in cases.items():
        assert outcomes[key].error is None, (key, outcomes[key].error)
        assert summary(outcomes[key]) == expected, key


def test_a_rule_that_breaks_the_shared_query_is_its_own_error(pg_url, tmp_path, queries):
    # given a condition PostgreSQL refuses only when it runs (text compared to an integer), beside a sound rule
    place = Place("postgres", str(tmp_path), pg_url)
    source = place.put(CUSTOMERS, "customers")
    specs = [check("not_null", {"column": "email"}), check("custom_sql", {"condition": "code > 5"})]
    # when
    outcomes = evaluate_source(source, specs, policy=local_policy(str(tmp_path)), schema_fields=FIELDS,
                               references={}, sensitive=set())
    # then the shared query failed, each rule ran alone: the sound one counted, the other an error
    assert (outcomes[0].status, outcomes[0].rows_failed) == ("failed", 2)
    assert outcomes[1].status == "error" and "operator does not exist" in (outcomes[1].error or "")


def test_a_pushed_down_query_on_postgresql_ends_at_the_policy_time_limit(pg_url, tmp_path):
    # given a table opened under a policy whose queries may last 0.2 s
    source = Place("postgres", str(tmp_path), pg_url).put(CUSTOMERS, "customers")
    table = sqlroad.Table(local_policy(str(tmp_path), query_timeout_s=0.2), source)
    try:
        # when a query runs longer, then the database stops it
        with pytest.raises(Exception, match="statement timeout"):
            table.query("SELECT pg_sleep(5)")
    finally:
        table.close()
