"""schema_match: the data's columns and types against the dataset's current schema.

Each schema field is one item checked: it fails when its column is missing or its type family does
not fit (`observed` lists missing, mismatched and extra columns; extra columns do not fail). Sources
that keep values as text (CSV, JSON lines, SQLite) may hold a typed field as text: there a text column
fits when every non-null value converts with the cleaner's own casts.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from ..errors import DataPlaneConfigError
from ..types import polars_dtype
from .outcomes import verdict
from .spec import CheckOutcome, CheckSpec

# Families a column may have for each schema type (before the text leniency below).
FITS: dict[str, frozenset[str]] = {
    "string": frozenset({"string"}),
    "integer": frozenset({"integer"}),
    "bigint": frozenset({"integer"}),
    "float": frozenset({"float", "decimal", "integer"}),
    "double": frozenset({"float", "decimal", "integer"}),
    "decimal": frozenset({"decimal", "float", "integer"}),
    "boolean": frozenset({"boolean"}),
    "date": frozenset({"date"}),
    "timestamp": frozenset({"timestamp"}),
    "array": frozenset({"other", "string"}),
    "map": frozenset({"string", "other"}),
    "object": frozenset({"string", "other"}),
}
_SCALAR_TYPES = ("integer", "bigint", "float", "double", "decimal", "boolean", "date", "timestamp")

# Counts the non-null text values of a column that do not convert to a type.
Unconvertible = Callable[[str, pl.DataType], int]


def schema_match(spec: CheckSpec, fields: list[dict], families: dict[str, str], *, text_backed: bool,
                 sqlite: bool = False, unconvertible: Unconvertible | None = None) -> CheckOutcome:
    """Compare `fields` (the dataset schema) with the data's column families."""
    missing: list[str] = []
    mismatched: list[dict[str, str]] = []
    named = [f for f in fields if isinstance(f, dict) and isinstance(f.get("name"), str)]
    for item in named:
        name, kind = item["name"], item.get("type")
        actual = families.get(name)
        if actual is None:
            missing.append(name)
            continue
        fits = FITS.get(kind, frozenset())
        if actual in fits or (sqlite and kind == "boolean" and actual == "integer"):
            continue  # SQLite has no boolean type: 0 and 1 in an INTEGER column.
        if text_backed and kind in _SCALAR_TYPES and actual in ("string", "date", "timestamp") \
                and unconvertible is not None:
            try:
                target = polars_dtype(item)
            except DataPlaneConfigError:
                target = None
            if target is not None and unconvertible(name, target) == 0:
                continue
        mismatched.append({"column": name, "expected": str(kind), "actual": actual})
    known = {f["name"] for f in named}
    extra = [c for c in families if c not in known]
    failed = len(missing) + len(mismatched)
    observed = {"missing": missing, "mismatched": mismatched, "extra": extra}
    return verdict(spec, failed == 0, rows=len(named), failed=failed, observed=observed)
