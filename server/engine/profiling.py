"""Profiling a dataset's data: per column the row count, nulls, distinct values, bounds, mean and text lengths.

Runs in a job process (never on the event loop), over the data plane's lazy read of the source, so the
file roots and the connection policy apply as for any pipeline. Up to EXACT_DISTINCT_ROWS rows the
distinct count is exact; above, Polars' HyperLogLog estimate (`approx_n_unique`) is used and marked so.
"""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from typing import Any

import orjson
import polars as pl

from server.engine.child import JobPlan
from server.engine.dataplane import DataPlaneConfigError, RunContext, RunResult, mask_connection
from server.engine.dataplane.sources import open_source
from server.engine.quality_bodies import PROFILE_FILE, PROFILE_STEP

EXACT_DISTINCT_ROWS = 1_000_000
MAX_TEXT_BOUND = 200  # min/max of a text column are cut to this many characters


def _plain(value: Any) -> Any:
    """A bound as JSON can carry it: dates and times as ISO text, decimals as floats, long text cut."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, str):
        return value[:MAX_TEXT_BOUND]
    if isinstance(value, bytes):
        return None
    return value


def _orderable(dtype: pl.DataType) -> bool:
    return dtype.is_numeric() or dtype.is_temporal() or dtype == pl.String or dtype == pl.Boolean


def profile_frame(frame: pl.LazyFrame, exact_limit: int = EXACT_DISTINCT_ROWS) -> dict[str, Any]:
    """The profile of a lazy frame: `row_count` and one entry per column, in the frame's order."""
    schema = frame.collect_schema()
    rows = int(frame.select(pl.len()).collect().item())
    exact = rows <= exact_limit
    exprs: list[pl.Expr] = []
    for name, dtype in schema.items():
        col = pl.col(name)
        exprs.append(col.null_count().alias(f"{name}\x00nulls"))
        distinct = col.drop_nulls().n_unique() if exact else col.drop_nulls().approx_n_unique()
        exprs.append(distinct.alias(f"{name}\x00distinct"))
        if _orderable(dtype):
            exprs += [col.min().alias(f"{name}\x00min"), col.max().alias(f"{name}\x00max")]
        if dtype.is_numeric():
            exprs.append(col.cast(pl.Float64).mean().alias(f"{name}\x00mean"))
        if dtype == pl.String:
            length = col.str.len_chars()
            exprs += [length.min().alias(f"{name}\x00min_length"), length.max().alias(f"{name}\x00max_length")]
    figures = frame.select(exprs).collect().row(0, named=True) if exprs else {}
    columns = []
    for name, dtype in schema.items():
        def get(key: str, column: str = name) -> Any:
            return _plain(figures.get(f"{column}\x00{key}"))

        columns.append({"name": name, "type": str(dtype), "row_count": rows, "null_count": get("nulls"),
                        "distinct_count": get("distinct"), "distinct_approximate": not exact,
                        "min": get("min"), "max": get("max"), "mean": get("mean"),
                        "min_length": get("min_length"), "max_length": get("max_length")})
    return {"row_count": rows, "columns": columns}


def profile_dataset(plan: JobPlan, ctx: RunContext) -> RunResult:
    """The work of a profiling process (quality_bodies.run_profile): leave the figures in the plan's folder."""
    config = plan.steps[0]["config"]
    source, schema = plan.datasets[config["dataset_id"]]
    ctx.on_step_start(PROFILE_STEP)
    try:
        scan = open_source(plan.policy, source, schema)
        try:
            profile = profile_frame(scan.frame, config.get("exact_limit", EXACT_DISTINCT_ROWS))
        finally:
            scan.close()
    except DataPlaneConfigError as exc:
        profile = {"error": exc.message}
    except Exception as exc:  # Drivers, Polars and the OS raise many types: each is this profile's error.
        first = (str(exc).strip().splitlines() or [""])[0][:500]
        connection = source.get("connection")
        if isinstance(connection, str) and connection:
            first = first.replace(connection, mask_connection(connection))
        profile = {"error": f"{type(exc).__name__}: {first}"}
    assert plan.temp_dir is not None
    with open(os.path.join(plan.temp_dir, PROFILE_FILE), "wb") as handle:
        handle.write(orjson.dumps(profile, default=str))
    return None  # type: ignore[return-value]
