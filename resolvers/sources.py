"""Dataset sources: what a valid source is, and how its secret is kept out of sight."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from resolvers.errors import ValidationError

SOURCE_TYPES = ("database", "file")
DATABASE_SCHEMES = ("postgresql", "postgres", "sqlite")
FILE_FORMATS = ("csv", "parquet", "jsonl")
_EXTENSIONS = {".csv": "csv", ".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$")
_SOURCE_KEYS = {
    "database": {"type", "connection", "table"},
    "file": {"type", "path", "format", "options"},
}
_CSV_OPTIONS = {"delimiter": str, "has_header": bool}


def _invalid(field: str, reason: str) -> ValidationError:
    return ValidationError("Invalid dataset configuration", field=field, reason=reason)


def check_connection(url: Any, field: str = "source.connection") -> None:
    """Raise ValidationError unless `url` is a database URL the server can open."""
    if not isinstance(url, str) or not url:
        raise _invalid(field, "Expected a connection string")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _invalid(field, "Invalid connection string format") from None
    if parts.scheme not in DATABASE_SCHEMES:
        raise _invalid(field, f"Unsupported scheme; expected one of {', '.join(DATABASE_SCHEMES)}")
    if parts.scheme == "sqlite":
        if parts.netloc or len(parts.path) < 2:
            raise _invalid(field, "Invalid connection string format: use sqlite:///path/to/file.db")
        return
    database = parts.path.lstrip("/")
    if not parts.hostname or not database or "/" in database or port == 0:
        raise _invalid(field, "Invalid connection string format")


def check_source(source: Any) -> dict[str, Any]:
    """Validate a dataset source and return it normalised (file format filled in)."""
    if not isinstance(source, dict):
        raise _invalid("source", "Expected an object")
    kind = source.get("type")
    if kind not in SOURCE_TYPES:
        raise _invalid("source.type", f"Unknown source type; expected one of {', '.join(SOURCE_TYPES)}")
    unknown = sorted(set(source) - _SOURCE_KEYS[kind])
    if unknown:
        raise _invalid(f"source.{unknown[0]}", "Unknown field")
    if kind == "database":
        check_connection(source.get("connection"))
        table = source.get("table")
        if not isinstance(table, str) or not _TABLE.match(table):
            raise _invalid("source.table", "Expected a table name such as customers or schema.customers")
        return dict(source)
    return _check_file(source)


def _check_file(source: dict[str, Any]) -> dict[str, Any]:
    path = source.get("path")
    if not isinstance(path, str) or not path.strip():
        raise _invalid("source.path", "Expected a file path")
    fmt = source.get("format")
    if fmt is None:
        suffix = "." + path.rsplit(".", 1)[-1].lower() if "." in path else ""
        fmt = _EXTENSIONS.get(suffix)
        if fmt is None:
            raise _invalid("source.format",
                           "Cannot infer the format from the path; give csv, parquet or jsonl")
    if fmt not in FILE_FORMATS:
        raise _invalid("source.format", f"Unknown format; expected one of {', '.join(FILE_FORMATS)}")
    options = source.get("options", {})
    if not isinstance(options, dict):
        raise _invalid("source.options", "Expected an object")
    for key, value in options.items():
        expected = _CSV_OPTIONS.get(key) if fmt == "csv" else None
        if expected is None:
            raise _invalid(f"source.options.{key}", "Unknown option")
        if not isinstance(value, expected):
            raise _invalid(f"source.options.{key}", f"Expected a {expected.__name__}")
    normalised = {"type": "file", "path": path, "format": fmt}
    if options:
        normalised["options"] = options
    return normalised


def mask_connection(url: str) -> str:
    """`postgresql://user:pass@host:5432/db` -> `postgresql://user:***@host:5432/db`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return parts._replace(netloc=f"{user}:***@{hostinfo}").geturl()


def masked_source(source: dict[str, Any]) -> dict[str, Any]:
    """The source as responses show it: the connection password masked."""
    if source.get("type") == "database" and isinstance(source.get("connection"), str):
        return {**source, "connection": mask_connection(source["connection"])}
    return dict(source)
