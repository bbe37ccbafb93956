"""From counts to an outcome: the pass ratio, the status, and a masked sample of failing rows.

Semantics (the README states them): a null is neither a pass nor a fail for value rules, it is
counted in `nulls`; `not_null` is the rule for nulls (there a null is a failure, and `nulls` says how
many); pass_ratio = passed / (passed + failed), 1 when nothing was judged (empty data); the status
is 'passed' iff pass_ratio >= threshold.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Callable
from typing import Any

import polars as pl

from ..masking import MASK, mask_secrets
from .spec import SAMPLE_LIMIT, CheckOutcome, CheckSpec

MAX_SAMPLE_COLUMNS = 64
MAX_SAMPLE_TEXT = 256
MAX_ERROR = 1_000


def judged(spec: CheckSpec, rows: int, nulls: int, failed: int, *, nulls_fail: bool = False,
           sample: list[dict] | None = None, observed: Any = None) -> CheckOutcome:
    """The outcome of a row rule from its three counts."""
    passed = rows - failed - (0 if nulls_fail else nulls)
    judged_rows = passed + failed
    ratio = passed / judged_rows if judged_rows else 1.0
    return CheckOutcome(key=spec.key, status="passed" if ratio >= spec.threshold else "failed", rows_checked=rows,
                        rows_failed=failed, nulls=nulls, pass_ratio=ratio, threshold=spec.threshold,
                        observed=observed, sample=sample or [])


def verdict(spec: CheckSpec, ok: bool, *, rows: int, observed: Any, failed: int = 0, nulls: int = 0) -> CheckOutcome:
    """The outcome of a rule judged on the data as a whole (row_count, freshness, schema_match)."""
    return CheckOutcome(key=spec.key, status="passed" if ok else "failed", rows_checked=rows, rows_failed=failed,
                        nulls=nulls, pass_ratio=1.0 if ok else 0.0, threshold=spec.threshold, observed=observed)


def errored(spec: CheckSpec, reason: str, *secrets_of: str) -> CheckOutcome:
    """The outcome of a check that could not run, with a reason that carries no secret."""
    from ..masking import redact

    text = redact(reason, *secrets_of).strip() or "the check could not run"
    return CheckOutcome.failure(spec, text[:MAX_ERROR])


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return mask_secrets(value[:MAX_SAMPLE_TEXT])
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | dt.timedelta):
        return str(value)
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return mask_secrets(str(value)[:MAX_SAMPLE_TEXT])


def safe_sample(read: Callable[[], pl.DataFrame], sensitive: set[str]) -> list[dict]:
    """The sample, or none when the failing rows cannot be read back (a column type the driver cannot
    carry, say): the counts are already known and stay the outcome; the sample is a courtesy."""
    try:
        return sample_rows(read(), sensitive)
    except Exception:
        return []


def sample_rows(frame: pl.DataFrame, sensitive: set[str]) -> list[dict]:
    """At most SAMPLE_LIMIT rows as JSON-ready dicts; sensitive columns masked, secrets in text masked."""
    names = frame.columns[:MAX_SAMPLE_COLUMNS]
    rows = []
    for row in frame.head(SAMPLE_LIMIT).select(names).iter_rows(named=True):
        rows.append({k: (MASK if k in sensitive and v is not None else _plain(v)) for k, v in row.items()})
    return rows
