"""Save-time checks of a rule's text (a regex_match pattern, a custom_sql condition), for the domain."""

from __future__ import annotations

from .patterns import pattern_problem


def check_pattern(pattern: str) -> str | None:
    """Why `pattern` cannot be used by regex_match (Polars and PostgreSQL must agree on it), else None."""
    return pattern_problem(pattern)


def check_select(sql: str) -> str | None:
    """Why a custom_sql condition is refused (not one read-only expression or SELECT), else None."""
    from .customsql import select_problem  # Imported here: sqlglot is needed only once a condition comes.

    return select_problem(sql)
