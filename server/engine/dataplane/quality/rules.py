"""A check's config, validated against the data's columns when it runs, into an engine-neutral plan.

The domain validates shapes at save; the data may have changed since, so everything is checked again
here against the columns the data has now (a `Problem` becomes an 'error' outcome). Column types are
compared by family ('string', 'integer', 'float', 'decimal', 'boolean', 'date', 'timestamp',
'other'), which both the SQL and the Polars road can tell.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from typing import Any

from .customsql import Condition, SqlRefused, parse_condition
from .patterns import Pattern, PatternError, translate
from .spec import RULE_TYPES, CheckSpec

NUMERIC = frozenset({"integer", "float", "decimal"})
TEMPORAL = frozenset({"date", "timestamp"})
TEXTUAL = frozenset({"string", "integer"})  # Columns whose text form is the same on every engine.
MAX_VALUES = 1_000
MAX_KEY_COLUMNS = 16
MAX_STRING = 10_000
MAX_VALUES_TEXT = 100_000  # All accepted values together, as they are written into one SQL query.
_AGE = re.compile(r"^(\d{1,9})([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class Problem(ValueError):
    """The check cannot run as configured on this data; the message is the outcome's error."""


@dataclass(frozen=True)
class Plan:
    """What to evaluate: `kind` is the rule type, `columns` the columns whose null makes a row a null."""

    kind: str
    columns: tuple[str, ...] = ()
    pattern: Pattern | None = None
    values: tuple[Any, ...] = ()
    low: float | int | None = None
    high: float | int | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True
    max_age: float | None = None
    condition: Condition | None = None
    reference: dict[str, Any] = field(default_factory=dict)  # referential: dataset_id, ref_column, source

    @property
    def column(self) -> str:
        return self.columns[0]


def _column(config: dict, families: dict[str, str], key: str = "column") -> str:
    name = config.get(key)
    if not isinstance(name, str) or not name:
        raise Problem(f"config.{key}: a column name is required")
    if name not in families:
        raise Problem(f"config.{key}: column {name!r} does not exist in the data")
    return name


def _number(config: dict, key: str, *, integer: bool = False) -> float | int | None:
    value = config.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or (integer and not isinstance(value, int)):
        raise Problem(f"config.{key}: must be {'an integer' if integer else 'a number'}")
    if isinstance(value, float) and not math.isfinite(value):
        raise Problem(f"config.{key}: must be finite")
    if isinstance(value, int) and abs(value) >= 2**63:
        raise Problem(f"config.{key}: out of range")
    if integer and value < 0:
        raise Problem(f"config.{key}: must not be negative")
    return value


def _bounds(config: dict, *, integer: bool = False) -> tuple[Any, Any]:
    low, high = _number(config, "min", integer=integer), _number(config, "max", integer=integer)
    if low is None and high is None:
        raise Problem("config: min, max or both are required")
    if low is not None and high is not None and low > high:
        raise Problem("config.min: must not be greater than max")
    return low, high


def _instant(config: dict, key: str) -> dt.datetime | None:
    value = config.get(key)
    if value is None:
        return None
    try:
        when = dt.datetime.fromisoformat(value) if isinstance(value, str) and len(value) <= 64 else None
    except ValueError:
        when = None
    if when is None:
        raise Problem(f"config.{key}: an ISO date or timestamp is required for a date or timestamp column")
    # Compared in UTC without a zone: an aware bound is converted, a naive one is taken as UTC.
    return when.astimezone(dt.UTC).replace(tzinfo=None) if when.tzinfo else when


def _time_bounds(config: dict) -> tuple[dt.datetime | None, dt.datetime | None]:
    low, high = _instant(config, "min"), _instant(config, "max")
    if low is None and high is None:
        raise Problem("config: min, max or both are required")
    if low is not None and high is not None and low > high:
        raise Problem("config.min: must not be greater than max")
    return low, high


def max_age_seconds(value: object) -> float:
    """A freshness duration ('30m', '24h', '2d', '1w' or seconds) in seconds; raises Problem."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and 0 < value < 2**40:
        return float(value)
    match = _AGE.match(value) if isinstance(value, str) else None
    if not match or int(match.group(1)) == 0:
        raise Problem("config.max_age: a positive duration such as '30m', '24h', '2d' or a number of seconds")
    return float(int(match.group(1)) * _UNITS[match.group(2)])


def _values(config: dict, family: str) -> tuple[Any, ...]:
    values = config.get("values")
    if not isinstance(values, list) or not values or len(values) > MAX_VALUES:
        raise Problem(f"config.values: a list of 1 to {MAX_VALUES} values is required")
    values = [_coerced(v, family) for v in values]
    for i, value in enumerate(values):
        if family == "string":
            ok = isinstance(value, str) and len(value) <= MAX_STRING and "\x00" not in value
        elif family in NUMERIC:
            ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) \
                and abs(value) < 2**63
        elif family == "boolean":
            ok = isinstance(value, bool)
        else:
            raise Problem("accepted_values needs a text, number or boolean column")
        if not ok:
            raise Problem(f"config.values[{i}]: {str(value)[:50]!r} does not fit a {family} column")
    if sum(len(str(v)) for v in values) > MAX_VALUES_TEXT:
        raise Problem(f"config.values: longer than {MAX_VALUES_TEXT} characters in all")
    return tuple(dict.fromkeys(values))


def _coerced(value: Any, family: str) -> Any:
    """A value written in another kind that converts without loss: 7 for a text column is '7', '7' for an
    integer column is 7, 'true' for a boolean column is True (the same value then on every engine)."""
    if family == "string" and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and family in NUMERIC:
        for kind in (int, float):
            try:
                number = kind(value.strip())
            except ValueError:
                continue
            return number if family != "integer" or isinstance(number, int) else value
    if isinstance(value, str) and family == "boolean" and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return value


def plan(spec: CheckSpec, families: dict[str, str], references: dict[str, dict] | None = None) -> Plan:
    """The plan of `spec` on data with these column families; raises Problem."""
    kind, config = spec.rule_type, spec.config
    if kind not in RULE_TYPES:
        raise Problem(f"rule_type: unknown rule type {kind!r}")
    if not isinstance(config, dict):
        raise Problem("config: must be an object")
    if not isinstance(spec.threshold, int | float) or isinstance(spec.threshold, bool) \
            or not 0 <= spec.threshold <= 1:
        raise Problem("threshold: must be a number from 0 to 1")
    if kind == "not_null":
        return Plan(kind, (_column(config, families),))
    if kind == "unique":
        names = config.get("columns", [config["column"]] if "column" in config else None)
        if not isinstance(names, list) or not names or len(names) > MAX_KEY_COLUMNS:
            raise Problem(f"config.columns: a list of 1 to {MAX_KEY_COLUMNS} column names is required")
        cols = tuple(dict.fromkeys(_column({"columns": n}, families, "columns") for n in names))
        return Plan(kind, cols)
    if kind in ("regex_match", "length"):
        col = _column(config, families)
        if families[col] not in TEXTUAL:
            raise Problem(f"config.column: {kind} needs a text or integer column; {col!r} is {families[col]}")
        if kind == "length":
            low, high = _bounds(config, integer=True)
            return Plan(kind, (col,), low=low, high=high)
        try:
            return Plan(kind, (col,), pattern=translate(config.get("pattern")))  # type: ignore[arg-type]
        except PatternError as exc:
            raise Problem(f"config.pattern: {exc}") from None
    if kind == "accepted_values":
        col = _column(config, families)
        return Plan(kind, (col,), values=_values(config, families[col]))
    if kind == "range":
        col = _column(config, families)
        if families[col] in TEMPORAL:
            low, high = _time_bounds(config)
        elif families[col] in NUMERIC:
            low, high = _bounds(config)
        else:
            raise Problem(f"config.column: range needs a number, date or timestamp column; {col!r} is "
                          f"{families[col]}")
        flags = [config.get(k, True) for k in ("min_inclusive", "max_inclusive")]
        if not all(isinstance(f, bool) for f in flags):
            raise Problem("config.min_inclusive/max_inclusive: must be true or false")
        return Plan(kind, (col,), low=low, high=high, low_inclusive=flags[0], high_inclusive=flags[1])
    if kind == "row_count":
        low, high = _bounds(config, integer=True)
        return Plan(kind, low=low, high=high)
    if kind == "freshness":
        col = _column(config, families)
        if families[col] not in ("timestamp", "date", "string"):
            raise Problem(f"config.column: freshness needs a timestamp or date column; {col!r} is {families[col]}")
        return Plan(kind, (col,), max_age=max_age_seconds(config.get("max_age")))
    if kind == "schema_match":
        return Plan(kind)
    if kind == "referential":
        col = _column(config, families)
        dataset_id, ref_column = config.get("dataset_id"), config.get("ref_column")
        if not isinstance(dataset_id, str) or not dataset_id:
            raise Problem("config.dataset_id: the referenced dataset is required")
        if not isinstance(ref_column, str) or not ref_column:
            raise Problem("config.ref_column: the referenced column is required")
        source = (references or {}).get(dataset_id)
        if not isinstance(source, dict):
            raise Problem(f"config.dataset_id: the referenced dataset {dataset_id!r} is not available")
        return Plan(kind, (col,), reference={"dataset_id": dataset_id, "ref_column": ref_column, "source": source})
    try:
        condition = parse_condition(config.get("condition"))
    except SqlRefused as exc:
        raise Problem(f"config.condition: {exc}") from None
    missing = sorted(condition.columns - set(families))
    if missing:
        raise Problem(f"config.condition: column {missing[0]!r} does not exist in the data")
    return Plan(kind, tuple(sorted(condition.columns)), condition=condition)


def polars_family(dtype: Any) -> str:
    """The family of a Polars data type."""
    import polars as pl

    if dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum | pl.Categorical):
        return "string"
    if dtype.is_integer():
        return "integer"
    if dtype.is_float():
        return "float"
    if isinstance(dtype, pl.Decimal):
        return "decimal"
    if dtype == pl.Boolean:
        return "boolean"
    if dtype == pl.Date:
        return "date"
    if isinstance(dtype, pl.Datetime):
        return "timestamp"
    return "other"


def sql_family(declared: str, dialect: str) -> str:
    """The family of a column type as SQLite declares it or PostgreSQL's information_schema names it."""
    kind = (declared or "").lower()
    if dialect == "sqlite":
        # SQLite's affinity rules, in their order; an untyped column is read as text (database.py does).
        if "int" in kind:
            return "integer"
        if any(word in kind for word in ("char", "clob", "text")) or not kind:
            return "string"
        if any(word in kind for word in ("real", "floa", "doub")):
            return "float"
        if "bool" in kind:
            return "boolean"
        if "timestamp" in kind or "datetime" in kind:
            return "timestamp"
        if "date" in kind:
            return "date"
        return "decimal" if any(word in kind for word in ("numeric", "decimal")) else "other"
    if kind in ("text", "character varying", "character", "varchar", "char", "name", "citext"):
        return "string"
    if kind in ("smallint", "integer", "bigint"):
        return "integer"
    if kind in ("real", "double precision"):
        return "float"
    if kind == "numeric":
        return "decimal"
    if kind == "boolean":
        return "boolean"
    if kind == "date":
        return "date"
    return "timestamp" if kind.startswith("timestamp") else "other"
