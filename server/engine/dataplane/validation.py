"""Validation of pipeline steps without any I/O: every refusal names its field (`steps[1].config.trim`)."""

from __future__ import annotations

import re
from typing import Any

from .connections import split_table
from .errors import DataPlaneConfigError
from .expressions import check_expression, sql_expression
from .gate_config import check_gate_config
from .source_config import file_format
from .typenames import check_type

STEP_TYPES = ("data_source", "data_cleaner", "data_sink", "quality_check")
RESERVED_TYPES: tuple[str, ...] = ()
CLEANER_KEYS = ("trim", "cast", "handle_nulls", "filter", "remove_duplicates", "rename")
MAX_STEP_ID = 200  # the length of a job step's step_id column
_STEP_KEYS = {"id", "type", "config", "depends_on", "name", "description"}
_CONFIG_KEYS = {
    "data_source": {"dataset_id", "columns", "filter"},
    "data_cleaner": set(CLEANER_KEYS),
    "data_sink": {"destination", "path", "format", "dataset_id", "mode"},
    "quality_check": {"rules", "checks"},
}
_CONNECTION_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_STRING_LITERAL = re.compile(r"'(?:[^']|'')*'")


def _refuse(field: str, reason: str, message: str | None = None) -> DataPlaneConfigError:
    return DataPlaneConfigError(f"{field}: {message or reason}", field=field, reason=reason)


def _is_str_list(value: Any) -> bool:
    return (isinstance(value, list) and bool(value) and len(set(value)) == len(value)
            and all(isinstance(v, str) and v for v in value))


def check_filter(expr: Any, field: str) -> None:
    """Refuse a filter that Polars cannot parse or that could not travel safely inside a SQL WHERE."""
    if not isinstance(expr, str) or not expr.strip():
        raise _refuse(field, "Filter must be a non-empty string")
    check_expression(expr, field)
    bare = _STRING_LITERAL.sub("''", expr)
    # The same text is pushed into the database's WHERE: refuse what could end or comment out the clause.
    if ";" in bare or "--" in bare or "/*" in bare or re.search(r"\bselect\b", bare, re.IGNORECASE):
        raise _refuse(field, "Invalid filter expression",
                      "filters may not contain ';', comments or subqueries")
    try:
        sql_expression(expr, field)
    except DataPlaneConfigError:
        raise
    except Exception as exc:  # Polars raises SQLInterfaceError or SQLSyntaxError depending on the fault.
        raise _refuse(field, "Invalid filter expression", f"cannot parse filter {expr!r}: {exc}") from None


def _check_source(config: dict[str, Any], at: str) -> None:
    if not isinstance(config.get("dataset_id"), str) or not config["dataset_id"]:
        raise _refuse(f"{at}.dataset_id", "A dataset_id string is required")
    if "columns" in config and not _is_str_list(config["columns"]):
        raise _refuse(f"{at}.columns", "Must be a non-empty list of distinct column names")
    if "filter" in config:
        check_filter(config["filter"], f"{at}.filter")


def _check_cast_type(value: Any, field: str) -> None:
    spec = {"type": value} if isinstance(value, str) else value
    if not isinstance(spec, dict) or not set(spec) <= {"type", "precision", "scale", "items"}:
        raise _refuse(field, "Must be a type name or {type, precision, scale, items}")
    try:
        check_type(spec)
    except DataPlaneConfigError as exc:
        raise _refuse(field, exc.reason, exc.message) from None


def _check_cleaner(config: dict[str, Any], at: str) -> None:
    for key in ("remove_duplicates", "trim"):
        if key in config and not (type(config[key]) is bool or _is_str_list(config[key])):
            raise _refuse(f"{at}.{key}", "Must be true, false or a list of column names")
    if "handle_nulls" in config:
        _check_nulls(config["handle_nulls"], f"{at}.handle_nulls")
    if "rename" in config:
        rename = config["rename"]
        if not isinstance(rename, dict) or not rename or not all(
                isinstance(k, str) and k and isinstance(v, str) and v for k, v in rename.items()):
            raise _refuse(f"{at}.rename", "Must map column names to new names")
        if len(set(rename.values())) != len(rename):
            raise _refuse(f"{at}.rename", "Two columns cannot take the same new name")
    if "cast" in config:
        cast = config["cast"]
        if type(cast) is bool:
            pass
        elif isinstance(cast, dict) and cast:
            for col, kind in cast.items():
                _check_cast_type(kind, f"{at}.cast.{col}")
        else:
            raise _refuse(f"{at}.cast", "Must be true (the dataset schema) or map columns to types")
    if "filter" in config:
        check_filter(config["filter"], f"{at}.filter")


def _check_nulls(value: Any, at: str) -> None:
    if value in ("drop", "keep"):
        return
    if not isinstance(value, dict):
        raise _refuse(at, "Must be 'drop', 'keep' or {strategy, columns | values}")
    strategy = value.get("strategy")
    allowed = {"drop": {"strategy", "columns"}, "keep": {"strategy"}, "fill": {"strategy", "values"}}
    if strategy not in allowed:
        raise _refuse(f"{at}.strategy", "Must be 'drop', 'keep' or 'fill'")
    for key in value:
        if key not in allowed[strategy]:
            raise _refuse(f"{at}.{key}", "Unknown key", f"unknown key {key!r} for strategy {strategy!r}")
    if "columns" in value and not _is_str_list(value["columns"]):
        raise _refuse(f"{at}.columns", "Must be a non-empty list of distinct column names")
    if strategy == "fill":
        values = value.get("values")
        if not isinstance(values, dict) or not values or not all(isinstance(k, str) and k for k in values):
            raise _refuse(f"{at}.values", "Must map column names to fill values")
        for col, fill in values.items():
            if fill is None or isinstance(fill, dict | list):
                raise _refuse(f"{at}.values.{col}", "Fill value must be a string, number or boolean")


def _check_sink(config: dict[str, Any], at: str) -> None:
    targets = [k for k in ("destination", "path", "dataset_id") if k in config]
    if len(targets) != 1:
        raise _refuse(at, "Exactly one of destination, path or dataset_id is required")
    if "format" in config and "path" not in config:
        raise _refuse(f"{at}.format", "format applies to path sinks only")
    if config.get("mode", "replace") not in ("replace", "append"):
        raise _refuse(f"{at}.mode", "Must be 'replace' or 'append'")
    if "destination" in config:
        dest = config["destination"]
        parts = dest.split(".") if isinstance(dest, str) else []
        if len(parts) not in (2, 3) or not _CONNECTION_NAME.match(parts[0]) or not all(parts[1:]):
            raise _refuse(f"{at}.destination",
                          "Must be '<connection>.<table>' or '<connection>.<schema>.<table>'")
        split_table(".".join(parts[1:]), dialect="postgresql", field=f"{at}.destination")
    elif "path" in config:
        file_format({k: config[k] for k in ("path", "format") if k in config}, field=at)
    elif not isinstance(config["dataset_id"], str) or not config["dataset_id"]:
        raise _refuse(f"{at}.dataset_id", "A dataset_id string is required")


def _check_quality(config: dict[str, Any], at: str) -> None:
    check_gate_config(config, at)


_CHECKS = {"data_source": _check_source, "data_cleaner": _check_cleaner, "data_sink": _check_sink,
           "quality_check": _check_quality}


def validate_step(step: dict[str, Any], *, at: str = "step") -> None:
    """Check one step's shape and config; raises DataPlaneConfigError."""
    if not isinstance(step, dict):
        raise _refuse(at, "A step must be an object")
    for key in step:
        if key not in _STEP_KEYS:
            raise _refuse(f"{at}.{key}", "Unknown key", f"unknown step key {key!r}")
    if not isinstance(step.get("id"), str) or not step["id"]:
        raise _refuse(f"{at}.id", "A non-empty string id is required")
    if len(step["id"]) > MAX_STEP_ID:
        # A job keeps one row per step under this id: a longer one could be saved but never run.
        raise _refuse(f"{at}.id", f"At most {MAX_STEP_ID} characters")
    kind = step.get("type")
    if kind not in STEP_TYPES:
        raise _refuse(f"{at}.type", "Unknown step type", f"unknown step type {kind!r}; expected one of "
                      + ", ".join(t for t in STEP_TYPES if t not in RESERVED_TYPES))
    if kind in RESERVED_TYPES:
        raise _refuse(f"{at}.type", "Step type not available yet", f"{kind} steps are not available yet")
    deps = step.get("depends_on", [])
    if not isinstance(deps, list) or not all(isinstance(d, str) and d for d in deps):
        raise _refuse(f"{at}.depends_on", "Must be a list of step ids")
    if kind != "data_source" and len(deps) > 1:
        raise _refuse(f"{at}.depends_on", "This step takes one input", f"a {kind} step takes one input")
    config = step.get("config", {})
    if not isinstance(config, dict):
        raise _refuse(f"{at}.config", "config must be an object")
    for key in config:
        if key not in _CONFIG_KEYS[kind]:
            raise _refuse(f"{at}.config.{key}", "Unknown key", f"unknown {kind} option {key!r}")
    _CHECKS[kind](config, f"{at}.config")
