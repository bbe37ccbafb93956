"""Text files read with the dataset's schema: declared columns typed on the way in, a misfit named by line.

CSV text is read as strings for every declared column (so no guess about its type can fail), then cast
to the declared type in the same streaming pass. A present value that does not fit fails the source
step with the file, the line and the column. Columns the schema does not declare, and files of a
dataset without a schema, have their types inferred from the whole file, so no valid row can surprise
the reader late in a file (measured in the README's data plane section).
"""

from __future__ import annotations

from typing import Any

import polars as pl

from .cleaner import tap
from .errors import StepDataError
from .types import cast_expr, lost_expr, schema_dtypes

ROW = "__docc_row__"
_LOST = "__docc_misfit__"


def scan_csv_typed(path: str, options: dict[str, Any], schema: dict[str, Any] | None,
                   columns: list[str] | None, step_id: str) -> pl.LazyFrame:
    """A lazy CSV read typed by `schema` (inferred from the whole file where it says nothing)."""
    separator, has_header = options.get("delimiter", ","), options.get("has_header", True)
    declared = schema_dtypes(schema)
    header = pl.read_csv(path, n_rows=0, separator=separator).columns if has_header else list(declared)
    texts = {name: pl.String() for name in header if name in declared}
    if header and len(texts) == len(header):  # Every column declared: nothing to infer, the file is read once.
        frame = pl.scan_csv(path, separator=separator, has_header=has_header, schema=texts, row_index_name=ROW)
    else:
        frame = pl.scan_csv(path, separator=separator, has_header=has_header, schema_overrides=texts or None,
                            infer_schema_length=None, row_index_name=ROW)
    if columns:
        frame = frame.select([*columns, ROW])
    first_line = 2 if has_header else 1
    return _typed(frame, {c: t for c, t in declared.items() if c in texts}, path, first_line, step_id)


def scan_ndjson_inferred(path: str) -> pl.LazyFrame:
    """A lazy JSON-lines read typed from the whole file."""
    return pl.scan_ndjson(path, infer_schema_length=None)


def _typed(frame: pl.LazyFrame, targets: dict[str, pl.DataType], path: str, first_line: int,
           step_id: str) -> pl.LazyFrame:
    present = frame.collect_schema()
    casts = {c: cast_expr(c, pl.String(), t) for c, t in targets.items() if c in present and t != pl.String()}
    if not casts:
        return frame.drop(ROW)
    flags = {c: f"{_LOST}{i}" for i, c in enumerate(casts)}
    # Padding is not a misfit: " 42 " is the integer 42 (text columns keep theirs for the cleaner's trim).
    stripped = frame.with_columns(pl.col(list(casts)).str.strip_chars())
    typed = stripped.with_columns(
        *casts.values(),
        *(pl.when(lost_expr(c, e)).then(pl.col(c)).alias(flags[c]) for c, e in casts.items()),
    )

    def check(df: pl.DataFrame) -> None:
        misfits = df.select(ROW, *flags.values()).filter(pl.any_horizontal(pl.col(list(flags.values())).is_not_null()))
        if misfits.height == 0:
            return
        row = misfits.row(0, named=True)
        column = next(c for c, flag in flags.items() if row[flag] is not None)
        raise StepDataError(step_id, f"{path}: line {row[ROW] + first_line}, column {column!r}: "
                                     f"{row[flags[column]]!r} is not a valid {targets[column]}")

    return tap(typed, check).drop([ROW, *flags.values()])
