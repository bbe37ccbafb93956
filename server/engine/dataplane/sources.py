"""Dataset sources: lazy readers for files and tables (their validation is source_config.py, which loads no Polars).

Files are scanned lazily (Polars pushes the projection and the filter into the scan). Tables are read
through ADBC as a stream of Arrow record batches behind a Polars IO source, with the projection and the
filter written into the SELECT, so the database does that work and only the needed rows travel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from . import database
from .expressions import check_expression, sql_expression
from .paths import resolve_path
from .policy import Policy
from .source_config import file_format, validate_source
from .typed_files import scan_csv_typed, scan_ndjson_inferred


@dataclass
class Scan:
    """A lazy source read and, when the source can tell it cheaply, how many rows it will yield."""

    frame: pl.LazyFrame
    expected_rows: int | None
    close: Callable[[], None] = field(default=lambda: None)


def open_source(policy: Policy, source: dict[str, Any], schema: dict[str, Any] | None, *,
                columns: list[str] | None = None, where: str | None = None, step_id: str = "source",
                widened: dict[str, pl.DataType] | None = None, typed: bool = True) -> Scan:
    """A lazy read of a dataset source with the projection and filter applied (pushed down).

    The policy is applied again at open time, and the file read is the resolved real path that passed.
    """
    validate_source(source, None)
    if where:
        check_expression(where, "filter")  # Bounded before the database's parser or Polars' sees it.
    if source["type"] == "database":
        return database.scan_table(policy, source["connection"], source["table"], columns=columns, where=where)
    fmt = file_format(source)
    path = resolve_path(policy, source["path"], field="source.path")
    expected = None
    if fmt == "csv":
        # The projection is applied inside, before the typing: only the columns read are cast.
        frame = scan_csv_typed(path, source.get("options", {}), schema, columns, step_id, widened, typed)
    else:
        if fmt == "parquet":
            frame = pl.scan_parquet(path)
            expected = pq.ParquetFile(path).metadata.num_rows  # Footer only: no data page is read.
        else:
            frame = scan_ndjson_inferred(path)
        if columns:
            frame = frame.select(columns)
    if where:
        frame = frame.filter(sql_expression(where))
        expected = None
    return Scan(frame, expected)

