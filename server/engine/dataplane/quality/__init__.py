"""The quality engine: evaluates data quality checks where the data lives.

Database sources (SQLite, PostgreSQL) are checked by SQL pushed down to the database, one query per
rule; files (CSV, Parquet, JSON lines) and pipeline frames lazily in Polars. Both roads give the same
counts for the same data. Nothing here raises on a bad rule or unreachable data: the outcome has
status 'error' and the reason.
"""

from .api import check_pattern, check_select, evaluate_frame, evaluate_source
from .spec import OUTCOME_STATUSES, RULE_TYPES, SAMPLE_LIMIT, VALUE_RULES, CheckOutcome, CheckSpec

__all__ = [
    "OUTCOME_STATUSES",
    "RULE_TYPES",
    "SAMPLE_LIMIT",
    "VALUE_RULES",
    "CheckOutcome",
    "CheckSpec",
    "check_pattern",
    "check_select",
    "evaluate_frame",
    "evaluate_source",
]
