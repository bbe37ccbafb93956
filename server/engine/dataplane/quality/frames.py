"""The Polars road: checks on a LazyFrame (files, pipeline data, and regex on SQLite tables).

Each row rule becomes two expressions, `null` (the row is a null for this rule) and `passing`; one
streaming aggregate gives the three counts, and a second, short query the sample (only when a row
failed; it stops after SAMPLE_LIMIT rows where the plan allows).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import polars as pl

from ..expressions import sql_expression
from ..types import cast_expr
from .outcomes import judged, sample_rows, verdict
from .rules import NUMERIC, Plan
from .spec import SAMPLE_LIMIT, CheckOutcome, CheckSpec


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


def predicates(plan: Plan, families: dict[str, str], reference: pl.Series | None = None) -> tuple[pl.Expr, pl.Expr]:
    """(null, passing) expressions of a row rule."""
    kind = plan.kind
    if kind == "custom_sql":
        assert plan.condition is not None
        condition = sql_expression(plan.condition.polars(), "config.condition")
        return condition.is_null(), condition
    null = pl.any_horizontal([pl.col(c).is_null() for c in plan.columns])
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
        return null, _bounded(col, plan)
    if kind == "accepted_values":
        family = families[plan.column]
        return null, _in(plan.column, list(plan.values), family, family)
    if kind == "referential":
        assert reference is not None
        from .rules import polars_family

        ref_family = polars_family(reference.dtype)
        return null, _in(plan.column, reference.to_list(), families[plan.column], ref_family)
    raise AssertionError(f"not a row rule: {kind}")


def row_rule(frame: pl.LazyFrame, spec: CheckSpec, plan: Plan, families: dict[str, str], sensitive: set[str],
             reference: pl.Series | None = None, sample_frame: Callable[[], pl.LazyFrame] | None = None
             ) -> CheckOutcome:
    """Count and sample one row rule on the frame (the sample from `sample_frame()` when the frame is narrowed)."""
    null, passing = predicates(plan, families, reference)
    nulls_fail = plan.kind == "not_null"
    failing = null if nulls_fail else (~null & ~passing.fill_null(False))
    counts = frame.select(pl.len().alias("rows"), null.sum().alias("nulls"), failing.sum().alias("failed")) \
        .collect(engine="streaming").row(0)
    rows, nulls, failed = (int(v or 0) for v in counts)
    sample = []
    if failed:
        source = sample_frame() if sample_frame is not None else frame
        sample = sample_rows(source.filter(failing).head(SAMPLE_LIMIT).collect(), sensitive)
    return judged(spec, rows, nulls, failed, nulls_fail=nulls_fail, sample=sample)


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
