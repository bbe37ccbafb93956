"""A dataset's `source` dict: its strict validation, without I/O beyond the policy's checks and without Polars.

The API process checks every source a dataset is saved with here; sources.py reads them in a job.
"""

from __future__ import annotations

import os
from typing import Any

from .connections import check_connection, parse_connection, split_table
from .errors import DataPlaneConfigError
from .paths import resolve_path
from .policy import Policy

FILE_FORMATS = {".csv": "csv", ".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_SOURCE_KEYS = {"database": {"type", "connection", "table"}, "file": {"type", "path", "format", "options"}}
_CSV_OPTIONS = {"delimiter": str, "has_header": bool}


def _refuse(field: str, reason: str, message: str | None = None) -> DataPlaneConfigError:
    return DataPlaneConfigError(f"{field}: {message or reason}", field=field, reason=reason)


def validate_source(source: dict[str, Any], policy: Policy | None, *, field: str = "source") -> None:
    """Check a dataset source dict; raises DataPlaneConfigError naming the field.

    Its shape is checked without any I/O; with a policy, its path or connection is checked too (file
    roots, the server's own files and database, allowed hosts).
    """
    if not isinstance(source, dict):
        raise _refuse(field, "Source must be an object")
    kind = source.get("type")
    if kind not in _SOURCE_KEYS:
        raise _refuse(f"{field}.type", "Unknown source type", f"unknown source type {kind!r}; expected "
                      "'database' or 'file'")
    for key in source:
        if key not in _SOURCE_KEYS[kind]:
            raise _refuse(f"{field}.{key}", "Unknown key", f"unknown key {key!r} for a {kind} source")
    if kind == "database":
        if "connection" not in source:
            raise _refuse(f"{field}.connection", "Missing connection string")
        conn = parse_connection(source["connection"], field=f"{field}.connection")
        if "table" not in source:
            raise _refuse(f"{field}.table", "Missing table name")
        split_table(source["table"], dialect=conn.dialect, field=f"{field}.table")
        if policy is not None:
            check_connection(policy, conn.url, field=f"{field}.connection")
        return
    file_format(source, field=field)
    if policy is not None:
        resolve_path(policy, source["path"], field=f"{field}.path")
    options = source.get("options", {})
    if not isinstance(options, dict):
        raise _refuse(f"{field}.options", "Options must be an object")
    if options and file_format(source, field=field) != "csv":
        raise _refuse(f"{field}.options", "Options apply to csv files only")
    for key, value in options.items():
        if key not in _CSV_OPTIONS:
            raise _refuse(f"{field}.options.{key}", "Unknown key", f"unknown csv option {key!r}")
        if not isinstance(value, _CSV_OPTIONS[key]):
            raise _refuse(f"{field}.options.{key}", f"Must be a {_CSV_OPTIONS[key].__name__}")
    if "delimiter" in options and len(options["delimiter"]) != 1:
        raise _refuse(f"{field}.options.delimiter", "Delimiter must be one character")


def file_format(source: dict[str, Any], *, field: str = "source") -> str:
    """The format of a file source, given or inferred from the extension; raises DataPlaneConfigError.

    Only the spelling of the path is looked at here; paths.resolve_path decides whether it may be used.
    """
    path = source.get("path")
    if not isinstance(path, str) or not path:
        raise _refuse(f"{field}.path", "Missing file path")
    if not os.path.isabs(path):
        raise _refuse(f"{field}.path", "File path must be absolute")
    given = source.get("format")
    if given is None:
        inferred = FILE_FORMATS.get(os.path.splitext(path)[1].lower())
        if inferred is None:
            raise _refuse(f"{field}.format", "Cannot infer format",
                          "cannot infer the format from the extension; set format to csv, parquet or jsonl")
        return inferred
    if given not in ("csv", "parquet", "jsonl"):
        raise _refuse(f"{field}.format", "Unknown format", f"unknown format {given!r}; expected csv, "
                      "parquet or jsonl")
    return given
