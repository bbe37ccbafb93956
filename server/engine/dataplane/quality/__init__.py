"""The quality engine: evaluates data quality checks where the data lives.

Database sources (SQLite, PostgreSQL) are checked by SQL pushed down to the database, one query per
rule; files (CSV, Parquet, JSON lines) and pipeline frames lazily in Polars. Both roads give the same
counts for the same data. Nothing here raises on a bad rule or unreachable data: the outcome has
status 'error' and the reason.

The vocabulary (spec.py) and the save-time checks (checks.py) load no engine; the evaluators import
Polars and sqlglot when first read.
"""

from ..lazy import lazy_exports

_EXPORTS = {
    "check_pattern": "checks", "check_select": "checks",
    "evaluate_frame": "api", "evaluate_source": "api",
    "OUTCOME_STATUSES": "spec", "RULE_TYPES": "spec", "SAMPLE_LIMIT": "spec", "VALUE_RULES": "spec",
    "CheckOutcome": "spec", "CheckSpec": "spec",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
