"""The data_sink step: atomic writes to files (temp file + os.replace) and tables (staging table + swap)."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import polars as pl

from . import database
from .connections import check_connection, mask_connection, parse_connection, split_table
from .errors import StepFailed
from .paths import resolve_path
from .policy import Policy
from .sources import file_format, validate_source


@dataclass(frozen=True)
class Target:
    """Where a sink writes: a table behind a URL, or a file."""

    kind: str  # "table" or "file"
    mode: str
    url: str | None = None
    table: str | None = None
    path: str | None = None
    format: str | None = None
    options: dict[str, Any] | None = None
    named: bool = False  # An operator's DOCC_CONNECTION_<NAME>: roots and host allow-list do not apply.

    def describe(self) -> str:
        """A human label without secrets."""
        if self.kind == "file":
            return self.path or ""
        return f"{mask_connection(self.url or '')} table {self.table}"


def resolve_target(policy: Policy, config: dict[str, Any], step_id: str, connection: Callable[[str], str],
                   dataset: Callable[[str], tuple[dict[str, Any], dict[str, Any]]]) -> Target:
    """Turn a sink config into a Target, asking the resolver for names and applying the policy.

    Raises StepFailed, or DataPlaneConfigError when the policy refuses the destination.
    """
    mode = config.get("mode", "replace")
    if "path" in config:
        fmt = file_format(config, field="config")
        return Target("file", mode, path=resolve_path(policy, config["path"], field="config.path"), format=fmt)
    if "destination" in config:
        name, table = config["destination"].split(".", 1)
        try:
            url = connection(name)
        except Exception as exc:
            raise StepFailed(step_id, f"unknown connection {name!r} (set DOCC_CONNECTION_{name.upper()}): "
                                      f"{exc}") from None
        conn = parse_connection(url, field=f"connection {name!r}")
        split_table(table, dialect=conn.dialect, field="destination")
        check_connection(policy, url, field="config.destination", named=True)
        return Target("table", mode, url=url, table=table, named=True)
    source, _schema = dataset(config["dataset_id"])
    validate_source(source, policy)
    if source["type"] == "database":
        return Target("table", mode, url=source["connection"], table=source["table"])
    return Target("file", mode, path=resolve_path(policy, source["path"], field="source.path"),
                  format=file_format(source), options=source.get("options"))


def write_file(policy: Policy, frame: pl.LazyFrame, target: Target) -> None:
    """Stream `frame` into a temp file beside the target, then rename it over the target."""
    # Checked again right before writing: a symlink planted since the step started is caught.
    path = resolve_path(policy, target.path or "", field="config.path")
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"directory {directory!r} does not exist")
    if target.mode == "append" and os.path.exists(path):
        # Files cannot be appended to atomically: write old rows plus new rows to the temp file.
        old = _scan_file(path, target)
        frame = pl.concat([old, frame], how="vertical_relaxed")
    temp = os.path.join(directory, f".{os.path.basename(path)}.{uuid.uuid4().hex[:12]}.tmp")
    opts = target.options or {}
    try:
        if target.format == "parquet":
            frame.sink_parquet(temp, engine="streaming")
        elif target.format == "csv":
            frame.sink_csv(temp, separator=opts.get("delimiter", ","),
                           include_header=opts.get("has_header", True), engine="streaming")
        else:
            frame.sink_ndjson(temp, engine="streaming")
        os.replace(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temp)


def _scan_file(path: str, target: Target) -> pl.LazyFrame:
    opts = target.options or {}
    if target.format == "parquet":
        return pl.scan_parquet(path)
    if target.format == "csv":
        return pl.scan_csv(path, separator=opts.get("delimiter", ","),
                           has_header=opts.get("has_header", True))
    return pl.scan_ndjson(path)


def write_table(policy: Policy, frame: pl.LazyFrame, target: Target, batch_rows: int,
                on_batch: Callable[[int], None]) -> int:
    """Stream `frame` in batches into a staging table and swap it in; returns rows written."""
    # Built from the schema: collecting even zero rows would start reading the source.
    empty = pl.DataFrame(schema=frame.collect_schema())

    def batches() -> Iterator[pl.DataFrame]:
        yield from frame.collect_batches(chunk_size=batch_rows)

    return database.write_staged(policy, target.url or "", target.table or "", target.mode, batches(), empty,
                                 on_batch, named=target.named)
