"""The data_cleaner step as lazy Polars operations.

Order, chosen so each operation sees the data the way a person reading the config expects:
1. `trim`: strip whitespace, so " 42 " can be cast and "a " equals "a" for de-duplication;
2. `cast`: to the dataset schema (`true`) or to the named types; a present value that does not fit
   fails the step (it is never silently turned into null);
3. `handle_nulls`: drop or fill, on typed values (fill values are checked against the column type);
4. `filter`: keep the rows for which the SQL expression is true;
5. `remove_duplicates`: on the cleaned, filtered rows, keeping the first occurrence;
6. `rename`: last, so every other option names columns as they come in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl

from .errors import DataPlaneConfigError, StepDataError, StepFailed
from .expressions import sql_expression
from .types import cast_expr, coerce_literal, lost_expr, polars_dtype, schema_dtypes

_LOST = "__docc_lost__"


def _columns(value: Any, available: list[str], step_id: str, option: str) -> list[str]:
    names = available if value is True else list(value)
    missing = [c for c in names if c not in available]
    if missing:
        raise StepFailed(step_id, f"{option}: unknown column(s) {', '.join(map(repr, missing))}; "
                                  f"the input has {', '.join(available)}")
    return names


def tap(frame: pl.LazyFrame, fn: Callable[[pl.DataFrame], None]) -> pl.LazyFrame:
    """Call `fn` on every batch flowing through, in the streaming engine, without stopping the stream."""

    def passthrough(df: pl.DataFrame) -> pl.DataFrame:
        fn(df)
        return df

    # No pushdown across the tap: a filter moved below it would change what the tap counts.
    return frame.map_batches(passthrough, streamable=True)


def build_cleaner(frame: pl.LazyFrame, config: dict[str, Any], step_id: str,
                  dataset_schema: dict[str, Any] | None) -> pl.LazyFrame:
    """Apply a data_cleaner config to a LazyFrame; raises StepFailed for config that does not fit the data."""
    schema = frame.collect_schema()
    names = list(schema)
    trim = config.get("trim", False)
    if trim:
        cols = [c for c in names if schema[c] == pl.String()] if trim is True else _columns(
            trim, names, step_id, "trim")
        wrong = [c for c in cols if schema[c] != pl.String()]
        if wrong:
            raise StepFailed(step_id, f"trim: column(s) {', '.join(map(repr, wrong))} are not text")
        frame = frame.with_columns(pl.col(cols).str.strip_chars())
    frame = _cast(frame, config.get("cast", False), schema, step_id, dataset_schema)
    schema = frame.collect_schema()
    frame = _nulls(frame, config.get("handle_nulls", "keep"), schema, step_id)
    if config.get("filter"):
        try:
            frame = frame.filter(sql_expression(config["filter"], "filter"))
        except DataPlaneConfigError as exc:  # Over a bound at run time: the step fails, Polars never parses it.
            raise StepFailed(step_id, exc.reason) from None
    dedupe = config.get("remove_duplicates", False)
    if dedupe:
        subset = None if dedupe is True else _columns(dedupe, names, step_id, "remove_duplicates")
        frame = frame.unique(subset=subset, keep="first", maintain_order=True)
    rename = config.get("rename")
    if rename:
        _columns(list(rename), names, step_id, "rename")
        frame = frame.rename(rename)
    try:
        frame.collect_schema()  # Resolves every expression now, so a type mismatch names this step.
    except Exception as exc:  # Polars raises many error types while resolving a plan.
        raise StepFailed(step_id, f"{type(exc).__name__}: {exc}") from None
    return frame


def _cast(frame: pl.LazyFrame, cast: Any, schema: pl.Schema, step_id: str,
          dataset_schema: dict[str, Any] | None) -> pl.LazyFrame:
    if not cast:
        return frame
    if cast is True:
        targets = {c: t for c, t in schema_dtypes(dataset_schema).items() if c in schema}
        if not targets:
            raise StepFailed(step_id, "cast: true needs a dataset schema that names input columns")
    else:
        _columns(list(cast), list(schema), step_id, "cast")
        targets = {c: polars_dtype(t) for c, t in cast.items()}
    casts = {c: cast_expr(c, schema[c], t) for c, t in targets.items() if schema[c] != t}
    if not casts:
        return frame
    lost = {c: f"{_LOST}{i}" for i, c in enumerate(casts)}
    frame = frame.with_columns(
        *casts.values(),
        # The offending text itself (null where the cast went fine), so the error can quote it.
        *(pl.when(lost_expr(c, e)).then(pl.coalesce(pl.col(c).cast(pl.String, strict=False), pl.lit("?")))
          .alias(lost[c]) for c, e in casts.items()),
    )

    def check(df: pl.DataFrame) -> None:
        for col, flag in lost.items():
            bad = df.get_column(flag).drop_nulls()
            if bad.len():
                raise StepDataError(step_id, f"cast: {bad.len()} value(s) of column {col!r} are not a valid "
                                             f"{targets[col]}, e.g. {bad[0]!r}")

    return tap(frame, check).drop(list(lost.values()))


def _nulls(frame: pl.LazyFrame, spec: Any, schema: pl.Schema, step_id: str) -> pl.LazyFrame:
    if isinstance(spec, str):
        spec = {"strategy": spec}
    if spec["strategy"] == "keep":
        return frame
    if spec["strategy"] == "drop":
        subset = _columns(spec["columns"], list(schema), step_id, "handle_nulls.columns") \
            if "columns" in spec else None
        return frame.drop_nulls(subset=subset)
    values = spec["values"]
    _columns(list(values), list(schema), step_id, "handle_nulls.values")
    fills = []
    for col, value in values.items():
        try:
            typed = coerce_literal(value, schema[col], field=f"handle_nulls.values.{col}")
        except Exception as exc:
            raise StepFailed(step_id, str(exc)) from None
        fills.append(pl.col(col).fill_null(pl.lit(typed, dtype=schema[col])))
    return frame.with_columns(fills)
