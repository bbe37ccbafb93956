"""What the quality engine takes and gives back: a check to run and the outcome of one run.

Plain frozen dataclasses so that they pickle into a job's child process and back. The domain owns
rules (ids, versions, enabled, schedules); the engine sees only the parts needed to evaluate one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# One list per vocabulary: the domain and both surfaces derive their enums from this tuple.
RULE_TYPES: tuple[str, ...] = (
    "not_null",
    "unique",
    "regex_match",
    "accepted_values",
    "range",
    "length",
    "row_count",
    "freshness",
    "schema_match",
    "referential",
    "custom_sql",
)
# Rules judged row by row on one column's non-null values; nulls are counted apart.
VALUE_RULES: frozenset[str] = frozenset({"regex_match", "range", "accepted_values", "length"})
OUTCOME_STATUSES: tuple[str, ...] = ("passed", "failed", "error")
SAMPLE_LIMIT = 20


@dataclass(frozen=True)
class CheckSpec:
    """One rule to evaluate: `key` comes back on its outcome (the domain uses the rule id)."""

    key: str
    rule_type: str
    config: dict
    threshold: float = 1.0
    severity: str = "error"


@dataclass(frozen=True)
class CheckOutcome:
    """The result of one check on one dataset's data; `error` is set iff status is 'error'."""

    key: str
    status: str  # 'passed' | 'failed' | 'error'
    rows_checked: int = 0
    rows_failed: int = 0
    nulls: int = 0
    pass_ratio: float | None = None
    threshold: float = 1.0
    observed: Any = None
    sample: list[dict] = field(default_factory=list)
    error: str | None = None

    @classmethod
    def failure(cls, spec: CheckSpec, reason: str) -> CheckOutcome:
        """The outcome of a check that could not run: never a silent pass."""
        return cls(key=spec.key, status="error", threshold=spec.threshold, error=reason)
