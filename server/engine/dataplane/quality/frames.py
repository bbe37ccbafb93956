"""The Polars road: checks on a LazyFrame (files, pipeline data, and regex on SQLite tables).

Each row rule becomes two expressions, `null` (the row is a null for this rule) and `passing`; one
streaming aggregate gives the three counts, and a second, short query the sample (only when a row
failed). Polars does not stop a filtered scan early once it has enough rows, so on a file the sample is
looked for in growing windows from the start (a slice is pushed into the scan): when failures are
common the first window holds them and costs a fraction of the count; when they are rare the windows
add up to at most about one more read of the file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl

from ..expressions import sql_expression
from ..types import cast_expr
from .outcomes import judged, safe_sample, verdict
from .rules import NUMERIC, Plan, polars_family
from .spec import SAMPLE_LIMIT, CheckOutcome, CheckSpec

FIRST_WINDOW = 65_536
WINDOW_GROWTH = 8


def _bounded(value: pl.Expr, plan: Plan) -> pl.Expr:
    test = pl.lit(True)
    if plan.low is not None:
        test = test & (value >= plan.low if plan.low_inclusive else value > plan.low)
    if plan.high is not None:
        test = test & (value <= plan.high if plan.high_inclusive else value < plan.high)
    return test


def _in(column: str, values: list[Any], column_family: str, values_family: str) -> pl.Expr:
    """`column IN values` with both sides cast to one type (Polars 2 compares equal types only)."""
    if column_family in NUMERIC and values_family in NUMERIC:
        dtype: pl.DataType = pl.Int64() if column_family == values_family == "integer" else pl.Float64()
    elif column_family == values_family == "boolean":
        dtype = pl.Boolean()
    else:
        dtype = pl.String()
    series = pl.Series(values, dtype=dtype, strict=False).drop_nulls()
    return pl.col(column).cast(dtype, strict=False).is_in(series.implode())


def _as_naive_utc(column: str, families: dict[str, str]) -> pl.Expr:
    """A date or timestamp column as a UTC datetime without zone; text (SQLite) read as the cleaner does."""
    col = pl.col(column)
    if families.get(column) == "string":
        return cast_expr(column, pl.String(), pl.Datetime("us"))
    return col.cast(pl.Datetime("us", "UTC")).dt.replace_time_zone(None)


def predicates(plan: Plan, families: dict[str, str], reference: pl.Series | None = None) -> tuple[pl.Expr, pl.Expr]:
    """(null, passing) expressions of a row rule."""
    kind = plan.kind
    if kind == "custom_sql":
        assert plan.condition is not None
        condition = sql_expression(plan.condition.polars(), "config.condition")
        return condition.is_null(), condition
    nulls = [pl.col(c).is_null() for c in plan.columns]
    null = nulls[0] if len(nulls) == 1 else pl.any_horizontal(nulls)  # any_horizontal costs a pass of its own
    col = pl.col(plan.column)
    if kind == "not_null":
        return null, ~null
    if kind == "unique":
        key = pl.struct(list(plan.columns)) if len(plan.columns) > 1 else col
        return null, ~key.is_duplicated()
    if kind == "regex_match":
        assert plan.pattern is not None
        return null, col.cast(pl.String).str.contains(plan.pattern.polars)
    if kind == "length":
        return null, _bounded(col.cast(pl.String).str.len_chars(), plan)
    if kind == "range":
        if isinstance(plan.low, dt.datetime) or isinstance(plan.high, dt.datetime):
            return null, _bounded(_as_naive_utc(plan.column, families), plan)
        return null, _bounded(col, plan)
    if kind == "accepted_values":
        family = families[plan.column]
        return null, _in(plan.column, list(plan.values), family, family)
    if kind == "referential":
        assert reference is not None
        ref_family = polars_family(reference.dtype)
        return null, _in(plan.column, reference.to_list(), families[plan.column], ref_family)
    raise AssertionError(f"not a row rule: {kind}")


def failing_rows(frame: pl.LazyFrame, failing: pl.Expr, rows: int, windowed: bool) -> pl.DataFrame:
    """The first SAMPLE_LIMIT rows where `failing` holds (in windows when the frame is a file scan)."""
    if not windowed:
        return frame.filter(failing).head(SAMPLE_LIMIT).collect()
    found: list[pl.DataFrame] = []
    offset, size, missing = 0, FIRST_WINDOW, SAMPLE_LIMIT
    while missing > 0 and offset < rows:
        part = frame.slice(offset, size).filter(failing).head(missing).collect()
        found.append(part)
        missing -= part.height
        offset, size = offset + size, size * WINDOW_GROWTH
    return pl.concat(found, how="vertical_relaxed") if found else frame.head(0).collect()


@dataclass(frozen=True)
class RowTest:
    """A row rule ready to count: which rows are nulls for it and which fail."""

    spec: CheckSpec
    null: pl.Expr
    failing: pl.Expr
    nulls_fail: bool  # not_null: the nulls are the failures
    windowed: bool  # the sample may be looked for in windows (a test of one row on a file scan)


def row_test(spec: CheckSpec, plan: Plan, families: dict[str, str], reference: pl.Series | None = None,
             windowed: bool = False) -> RowTest:
    null, passing = predicates(plan, families, reference)
    nulls_fail = plan.kind == "not_null"
    failing = null if nulls_fail else (~null & ~passing.fill_null(False))
    # A window sees only its own rows: fine for a test of one row, wrong for duplicates across the data.
    return RowTest(spec, null, failing, nulls_fail, windowed and plan.kind != "unique")


def count(frame: pl.LazyFrame, tests: list[RowTest]) -> list[tuple[int, int, int]]:
    """(rows, nulls, failed) of each test, all in one streaming pass over the frame."""
    sums = []
    for i, test in enumerate(tests):
        sums.append(test.null.sum().alias(f"n{i}"))
        if not test.nulls_fail:  # not_null fails exactly its nulls: one sum, not two.
            sums.append(test.failing.sum().alias(f"f{i}"))
    row = frame.select(pl.len().alias("rows"), *sums).collect(engine="streaming").to_dicts()[0]
    rows = int(row["rows"] or 0)
    return [(rows, int(row[f"n{i}"] or 0), int(row[f"n{i}" if t.nulls_fail else f"f{i}"] or 0))
            for i, t in enumerate(tests)]


def finish(test: RowTest, counts: tuple[int, int, int], frame: pl.LazyFrame, sensitive: set[str],
           sample_frame: Callable[[], pl.LazyFrame] | None = None) -> CheckOutcome:
    """The outcome of a counted test, with its sample read when a row failed."""
    rows, nulls, failed = counts
    sample = []
    if failed:
        source = sample_frame() if sample_frame is not None else frame
        sample = safe_sample(lambda: failing_rows(source, test.failing, rows, test.windowed and sample_frame is None),
                             sensitive)
    return judged(test.spec, rows, nulls, failed, nulls_fail=test.nulls_fail, sample=sample)


def row_rule(frame: pl.LazyFrame, spec: CheckSpec, plan: Plan, families: dict[str, str], sensitive: set[str],
             reference: pl.Series | None = None, sample_frame: Callable[[], pl.LazyFrame] | None = None,
             windowed: bool = False) -> CheckOutcome:
    """Count and sample one row rule on the frame (the sample from `sample_frame()` when the frame is narrowed)."""
    test = row_test(spec, plan, families, reference, windowed)
    return finish(test, count(frame, [test])[0], frame, sensitive, sample_frame)


def row_count(frame: pl.LazyFrame, spec: CheckSpec, plan: Plan) -> CheckOutcome:
    rows = int(frame.select(pl.len()).collect(engine="streaming").item())
    ok = (plan.low is None or rows >= plan.low) and (plan.high is None or rows <= plan.high)
    return verdict(spec, ok, rows=rows, observed=rows)


def as_utc(value: Any) -> dt.datetime | None:
    """A newest value (datetime, date or ISO text) as an aware UTC datetime; naive values are taken as UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time())
    if not isinstance(value, dt.datetime):
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def judge_freshness(spec: CheckSpec, plan: Plan, rows: int, newest: Any) -> CheckOutcome:
    """Passed iff the newest value is at most max_age old; `observed` is its age in seconds."""
    when = as_utc(newest)
    if when is None:
        return verdict(spec, False, rows=rows, observed=None)
    age = round((dt.datetime.now(dt.UTC) - when).total_seconds(), 3)
    assert plan.max_age is not None
    return verdict(spec, age <= plan.max_age, rows=rows, observed=age)


def freshness(frame: pl.LazyFrame, spec: CheckSpec, plan: Plan) -> CheckOutcome:
    col = pl.col(plan.column)
    dtype = frame.collect_schema()[plan.column]
    if dtype == pl.String:  # Text files keep timestamps as text: read them as the cleaner would.
        col = cast_expr(plan.column, pl.String(), pl.Datetime("us"))
    rows, newest = frame.select(pl.len(), col.max()).collect(engine="streaming").row(0)
    return judge_freshness(spec, plan, int(rows), newest)


def castable_failures(frame: pl.LazyFrame, column: str, target: pl.DataType) -> int:
    """How many non-null text values of `column` do not convert to `target` (the cleaner's casts)."""
    cast = cast_expr(column, pl.String(), target)
    lost = pl.col(column).is_not_null() & cast.is_null()
    return int(frame.select(lost.sum()).collect(engine="streaming").item() or 0)
