"""Text files read with the dataset's schema: declared columns typed on the way in, a misfit named by line.

Declared CSV columns are typed on the way in (see `scan_csv_typed`); a present value that does not fit
fails the source step with the file, the line and the column. Columns the schema does not declare are
typed from the first INFER_ROWS rows; when a later row holds a value that guess cannot parse,
`inference_miss` reads the column from Polars' error, and the run starts over with it widened (to
Float64 when the value is a number, else text).
Inferring from the whole file up front costs about ten times the read itself (measured on 1,000,000
rows: 8.5 s against 0.75 s), so the guess is kept and corrected instead. JSON lines are inferred from
the whole file, whose cost is far smaller.
"""

from __future__ import annotations

import re
from typing import Any

import polars as pl

from .cleaner import tap
from .errors import StepDataError
from .types import cast_expr, lost_expr, schema_dtypes

INFER_ROWS = 10_000
ROW = "__docc_row__"
# Polars' message when a guessed CSV type meets a value it cannot parse.
_MISS = re.compile(r"could not parse `(?P<value>.*?)` as dtype `(?P<dtype>\w+)` at column '(?P<column>[^']+)'")
# Types the CSV reader parses itself, much faster than text and a cast.
NATIVE = (pl.Int8(), pl.Int16(), pl.Int32(), pl.Int64(), pl.Float32(), pl.Float64(), pl.Boolean(), pl.String())
_INTEGERS = ("i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64")
_LOST = "__docc_misfit__"


def inference_miss(exc: BaseException | None) -> tuple[str, pl.DataType, str] | None:
    """(column, wider type, value) when `exc` is Polars meeting a late value its guessed CSV type cannot parse."""
    match = _MISS.search(str(exc)) if exc is not None else None
    if match is None:
        return None
    value = match["value"]
    try:
        float(value)
        number = match["dtype"] in _INTEGERS
    except ValueError:
        number = False
    return match["column"], pl.Float64() if number else pl.String(), value


def scan_csv_typed(path: str, options: dict[str, Any], schema: dict[str, Any] | None,
                   columns: list[str] | None, step_id: str,
                   widened: dict[str, pl.DataType] | None = None, typed: bool = True) -> pl.LazyFrame:
    """A lazy CSV read typed by `schema`; undeclared columns guessed, but for those `widened` by an earlier miss.

    With `typed` False the schema only names the columns of a file without a header, and every type is
    guessed (the quality engine compares what the file holds with what the schema declares).

    Declared numbers and booleans are parsed by the CSV reader itself (the fast path); a value it cannot
    parse ends the run with an `inference_miss`, and the run starts over with that column in `widened`.
    Declared columns in `widened`, and dates, timestamps, decimals and lists, are read as text and cast
    in the same pass, where a value that does not fit is named by line (text padding is not a misfit).
    """
    widened = widened or {}
    separator, has_header = options.get("delimiter", ","), options.get("has_header", True)
    names = schema_dtypes(schema)
    declared = names if typed else {}
    header = pl.read_csv(path, n_rows=0, separator=separator).columns if has_header else list(names)
    read: dict[str, pl.DataType] = {}
    texts: dict[str, pl.DataType] = {}
    for name in header:
        if name in declared:
            native = declared[name] in NATIVE and name not in widened
            read[name] = declared[name] if native else pl.String()
            if not native:
                texts[name] = declared[name]
        elif name in widened:
            read[name] = widened[name]
    if header and len(read) == len(header):  # Every column typed: nothing to guess.
        frame = pl.scan_csv(path, separator=separator, has_header=has_header, schema=read, row_index_name=ROW)
    else:
        frame = pl.scan_csv(path, separator=separator, has_header=has_header, schema_overrides=read or None,
                            infer_schema_length=INFER_ROWS, row_index_name=ROW)
    if columns:
        frame = frame.select([*columns, ROW])
    first_line = 2 if has_header else 1
    return _typed(frame, texts, path, first_line, step_id)


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
