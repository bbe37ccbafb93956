"""DOCC field types and their Polars counterparts, with the casts the cleaner applies.

Mapping (`polars_dtype`): string=String, integer=Int32, bigint=Int64, float=Float32, double=Float64,
decimal=Decimal(precision or 38, scale or 9), boolean=Boolean, date=Date, timestamp=Datetime("us"),
array=List(items type, String when absent). `map` and `object` are kept as JSON text (String): their keys
vary row to row, which Struct cannot hold, and neither SQLite nor the PostgreSQL ADBC driver ingests Struct.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from .errors import DataPlaneConfigError
from .typenames import check_type

_SIMPLE: dict[str, pl.DataType] = {
    "string": pl.String(),
    "integer": pl.Int32(),
    "bigint": pl.Int64(),
    "float": pl.Float32(),
    "double": pl.Float64(),
    "boolean": pl.Boolean(),
    "date": pl.Date(),
    "timestamp": pl.Datetime("us"),
    "map": pl.String(),
    "object": pl.String(),
}
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")


def polars_dtype(field: dict[str, Any] | str) -> pl.DataType:
    """The Polars type of a schema field (or of a bare type name); raises DataPlaneConfigError."""
    check_type(field)
    spec = {"type": field} if isinstance(field, str) else field
    kind = spec["type"]
    if kind in _SIMPLE:
        return _SIMPLE[kind]
    if kind == "decimal":
        return pl.Decimal(spec.get("precision") or 38, spec.get("scale") or 0)
    items = spec.get("items", "string")  # an array
    return pl.List(polars_dtype(items if isinstance(items, dict | str) else "string"))


def schema_dtypes(schema: dict[str, Any] | None) -> dict[str, pl.DataType]:
    """Column name -> Polars type for every field of a dataset schema."""
    fields = (schema or {}).get("fields") or []
    return {f["name"]: polars_dtype(f) for f in fields if isinstance(f, dict) and "name" in f}


def to_json_text(expr: pl.Expr) -> pl.Expr:
    """Encode a nested (List/Struct) column as JSON text."""
    # Wrapping in a one-field struct gives '{"v":<json>}'; strip the wrapper to keep only <json>.
    name = expr.meta.output_name()
    return pl.struct(expr.alias("v")).struct.json_encode().str.slice(5).str.strip_suffix("}").alias(name)


# Explicit formats on purpose: without one, Polars infers the format from the whole column, which takes
# the plan out of the streaming engine (measured: memory then grows with the input, see bench/memory_bench).
ISO_DATE = "%Y-%m-%d"
ISO_TIMESTAMPS = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.fZ")


def _timestamps(col: pl.Expr) -> list[pl.Expr]:
    return [col.str.to_datetime(fmt, strict=False, time_unit="us") for fmt in ISO_TIMESTAMPS]


def cast_expr(name: str, source: pl.DataType, target: pl.DataType) -> pl.Expr:
    """A non-strict cast of column `name` to `target`; values that do not fit become null (`lost_expr`)."""
    return _cast(pl.col(name), source, target).alias(name)


def _cast(col: pl.Expr, source: pl.DataType, target: pl.DataType) -> pl.Expr:
    if source == target:
        return col
    if target == pl.String():
        return to_json_text(col) if isinstance(source, pl.List | pl.Struct) else col.cast(pl.String)
    if source == pl.String():
        if target == pl.Date():
            return pl.coalesce(col.str.to_date(ISO_DATE, strict=False), *(t.dt.date() for t in _timestamps(col)))
        if target == pl.Datetime("us"):
            return pl.coalesce(*_timestamps(col), col.str.to_date(ISO_DATE, strict=False).cast(pl.Datetime("us")))
        if target == pl.Boolean():
            low = col.str.to_lowercase()
            return (pl.when(low.is_in(_TRUE)).then(True).when(low.is_in(_FALSE)).then(False)
                    .otherwise(None).cast(pl.Boolean))
        if isinstance(target, pl.List):
            return col.str.json_decode(target)
    return col.cast(target, strict=False)


def lost_expr(name: str, cast: pl.Expr) -> pl.Expr:
    """True where a value was present before the cast and is null after it: a value that did not fit."""
    return pl.col(name).is_not_null() & cast.is_null()


def coerce_literal(value: Any, dtype: pl.DataType, *, field: str) -> Any:
    """Check that a fill value fits a column type and return it converted; raises DataPlaneConfigError."""
    try:
        series = pl.Series([value])
        out = pl.DataFrame({"v": series}).select(cast_expr("v", series.dtype, dtype))
        result = out.to_series().item()
    except Exception as exc:  # Polars raises several types for an impossible conversion.
        raise DataPlaneConfigError(f"{field}: {value!r} is not a valid {dtype}", field=field,
                                   reason=f"Value does not fit column type {dtype}") from exc
    if result is None and value is not None:
        raise DataPlaneConfigError(f"{field}: {value!r} is not a valid {dtype}", field=field,
                                   reason=f"Value does not fit column type {dtype}")
    return result
