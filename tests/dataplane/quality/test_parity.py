"""Every rule type on the same data in CSV, Parquet, SQLite and PostgreSQL gives the same exact counts."""

from __future__ import annotations

import datetime as dt
import os

import polars as pl
import pytest

from server.engine.dataplane.quality import CheckOutcome, evaluate_source

from .conftest import CODES, CUSTOMERS, FIELDS, NOW, Place, check, local_policy

EMAIL = r"^[^@]+@[^@]+\.[^@]+$"
# key -> (check, (status, rows_checked, rows_failed, nulls, pass_ratio, observed)), counted by hand on CUSTOMERS.
FAILING = {
    "not_null": (check("not_null", {"column": "email"}), ("failed", 8, 2, 2, 6 / 8, None)),
    "unique": (check("unique", {"column": "code"}), ("failed", 8, 4, 1, 3 / 7, None)),
    "unique_pair": (check("unique", {"columns": ["code", "status"]}), ("failed", 8, 2, 1, 5 / 7, None)),
    "regex": (check("regex_match", {"column": "email", "pattern": EMAIL, "threshold": 0.9}),
              ("failed", 8, 2, 2, 4 / 6, None)),
    "accepted": (check("accepted_values", {"column": "status", "values": ["active", "inactive", "pending"]}),
                 ("failed", 8, 1, 1, 6 / 7, None)),
    "range": (check("range", {"column": "age", "min": 18, "max": 120}), ("failed", 8, 2, 1, 5 / 7, None)),
    "range_open": (check("range", {"column": "amount", "min": 0, "max": 100, "min_inclusive": False}),
                   ("failed", 8, 2, 1, 5 / 7, None)),
    "length": (check("length", {"column": "email", "min": 5}), ("failed", 8, 2, 2, 4 / 6, None)),
    "range_time": (check("range", {"column": "ts", "min": (NOW - dt.timedelta(hours=10)).isoformat(),
                                   "max": (NOW - dt.timedelta(hours=1)).isoformat() + "+00:00"}),
                   ("failed", 8, 2, 0, 6 / 8, None)),
    "row_count": (check("row_count", {"min": 10}), ("failed", 8, 0, 0, 0.0, 8)),
    "freshness": (check("freshness", {"column": "ts", "max_age": "1h"}), ("failed", 8, 0, 0, 0.0, "age")),
    "referential": (check("referential", {"column": "code", "dataset_id": "ds_codes", "ref_column": "code"}),
                    ("failed", 8, 2, 1, 5 / 7, None)),
    "custom": (check("custom_sql", {"condition": "age >= 18 AND amount >= 0"}), ("failed", 8, 2, 2, 4 / 6, None)),
    "custom_select": (check("custom_sql", {"condition": "SELECT * FROM customers WHERE amount < 0"}),
                      ("failed", 8, 1, 1, 6 / 7, None)),
}
# The same rules with thresholds or bounds they meet.
PASSING = {
    "not_null": (check("not_null", {"column": "email"}, threshold=0.75), ("passed", 8, 2, 2, 0.75, None)),
    "unique": (check("unique", {"column": "id"}), ("passed", 8, 0, 0, 1.0, None)),
    "regex": (check("regex_match", {"column": "email", "pattern": EMAIL}, threshold=0.6),
              ("passed", 8, 2, 2, 4 / 6, None)),
    "accepted": (check("accepted_values", {"column": "id", "values": list(range(1, 9))}),
                 ("passed", 8, 0, 0, 1.0, None)),
    "range": (check("range", {"column": "amount", "max": 100}, threshold=0.5), ("passed", 8, 0, 1, 1.0, None)),
    "length": (check("length", {"column": "code", "min": 2, "max": 2}), ("passed", 8, 0, 1, 1.0, None)),
    "accepted_as_text": (check("accepted_values", {"column": "id", "values": [str(i) for i in range(1, 9)]}),
                         ("passed", 8, 0, 0, 1.0, None)),
    "range_time": (check("range", {"column": "ts", "min": (NOW - dt.timedelta(days=3)).date().isoformat()}),
                   ("passed", 8, 0, 0, 1.0, None)),
    "row_count": (check("row_count", {"min": 1, "max": 8}), ("passed", 8, 0, 0, 1.0, 8)),
    "freshness": (check("freshness", {"column": "ts", "max_age": 3 * 3600}), ("passed", 8, 0, 0, 1.0, "age")),
    "schema": (check("schema_match", {}), ("passed", 7, 0, 0, 1.0, {"missing": [], "mismatched": [], "extra": []})),
    "referential": (check("referential", {"column": "code", "dataset_id": "ds_codes", "ref_column": "code"},
                          threshold=0.7), ("passed", 8, 2, 1, 5 / 7, None)),
    "custom": (check("custom_sql", {"condition": "id BETWEEN 1 AND 8 OR code IS NULL"}),
               ("passed", 8, 0, 0, 1.0, None)),
}


def run(place: Place, frame: pl.DataFrame, cases: dict, fields: list[dict] = FIELDS) -> dict[str, CheckOutcome]:
    source = place.put(frame, "customers")
    references = {"ds_codes": place.put(CODES, "codes")}
    specs = [spec.__class__(key=key, rule_type=spec.rule_type, config=spec.config, threshold=spec.threshold,
                            severity=spec.severity) for key, (spec, _) in cases.items()]
    outcomes = evaluate_source(source, specs, policy=local_policy(place.folder), schema_fields=fields,
                               references=references, sensitive=set())
    return {o.key: o for o in outcomes}


def summary(outcome: CheckOutcome) -> tuple:
    observed = outcome.observed
    if outcome.key == "freshness":  # An age in seconds: the newest row is about two hours old.
        observed = "age" if isinstance(observed, float) and 7_000 < observed < 7_200 + 3_600 else observed
    return (outcome.status, outcome.rows_checked, outcome.rows_failed, outcome.nulls,
            pytest.approx(outcome.pass_ratio), observed)


@pytest.mark.parametrize("cases", [FAILING, PASSING], ids=["failing", "passing"])
def test_every_rule_type_counts_exactly_the_same_on_every_backend(place, cases):
    # given the sample customers in one backend
    # when every rule runs on them
    outcomes = run(place, CUSTOMERS, cases)
    # then each count is the one worked out by hand, whatever the backend
    for key, (_, expected) in cases.items():
        assert outcomes[key].error is None, (key, outcomes[key].error)
        assert summary(outcomes[key]) == expected, key


def test_empty_data_passes_value_rules_with_ratio_one_and_is_judged_by_row_count(place):
    # given the same columns and no row
    cases = {key: FAILING[key] for key in ("not_null", "unique", "regex", "accepted", "range", "length", "custom")}
    cases["row_count"] = FAILING["row_count"]
    # when
    outcomes = run(place, CUSTOMERS.head(0), cases)
    # then
    for key in cases:
        if key == "row_count":
            assert (outcomes[key].status, outcomes[key].observed) == ("failed", 0)
        else:
            assert summary(outcomes[key]) == ("passed", 0, 0, 0, 1.0, None), key


def test_a_column_dropped_after_save_is_an_error_never_a_pass(place):
    # given the data without its email column
    cases = {key: FAILING[key] for key in ("not_null", "regex", "length")}
    cases["schema"] = PASSING["schema"]
    # when
    outcomes = run(place, CUSTOMERS.drop("email"), cases)
    # then the value rules cannot run, and schema_match says what is missing
    for key in ("not_null", "regex", "length"):
        assert outcomes[key].status == "error"
        assert outcomes[key].error == "config.column: column 'email' does not exist in the data"
        assert outcomes[key].pass_ratio is None
    assert outcomes["schema"].status == "failed"
    assert outcomes["schema"].observed["missing"] == ["email"]


def test_schema_match_names_missing_and_mismatched_columns(place):
    # given a schema that declares one column the data lacks and one type the data does not hold
    fields = [*FIELDS[:3], {"name": "age", "type": "string"}, *FIELDS[4:], {"name": "phone", "type": "string"}]
    # when
    outcome = run(place, CUSTOMERS, {"schema": PASSING["schema"]}, fields=fields)["schema"]
    # then
    assert (outcome.status, outcome.rows_checked, outcome.rows_failed) == ("failed", 8, 2)
    assert outcome.observed["missing"] == ["phone"]
    assert outcome.observed["mismatched"] == [{"column": "age", "expected": "string", "actual": "integer"}]


def test_text_that_does_not_hold_the_declared_type_fails_schema_match(tmp_path):
    # given a CSV whose 'ts' column holds a word among timestamps
    path = os.path.join(os.path.realpath(tmp_path), "bad.csv")
    CUSTOMERS.with_columns(pl.col("ts").cast(pl.String).replace({CUSTOMERS["ts"].cast(pl.String)[0]: "soon"})) \
        .write_csv(path)
    # when
    [outcome] = evaluate_source({"type": "file", "path": path}, [check("schema_match", {})],
                                policy=local_policy(os.path.realpath(tmp_path)), schema_fields=FIELDS,
                                references={}, sensitive=set())
    # then
    assert outcome.observed["mismatched"] == [{"column": "ts", "expected": "timestamp", "actual": "string"}]
