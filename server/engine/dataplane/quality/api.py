"""Entry points of the quality engine (signatures are the contract with the domain)."""

from __future__ import annotations

import polars as pl

from ..policy import Policy
from .spec import CheckOutcome, CheckSpec


def evaluate_source(source: dict, checks: list[CheckSpec], *, policy: Policy, schema_fields: list[dict],
                    references: dict[str, dict], sensitive: set[str]) -> list[CheckOutcome]:
    """Run `checks` on a dataset's source config (as validate_source accepts it); one outcome per check.

    `references` maps a referenced dataset id to its source config (for `referential`);
    `sensitive` names the columns masked in samples. Blocking: call it in a job worker.
    """
    raise NotImplementedError


def evaluate_frame(frame: pl.LazyFrame, checks: list[CheckSpec], *, schema_fields: list[dict],
                   sensitive: set[str], references: dict[str, dict] | None = None,
                   policy: Policy | None = None) -> list[CheckOutcome]:
    """Run `checks` on a Polars frame (a file source, or the data flowing through a pipeline step).

    `referential` checks need `references` (dataset id -> source config) and the `policy` to open
    them; without them such a check is an 'error' outcome.
    """
    raise NotImplementedError


def check_pattern(pattern: str) -> str | None:
    """Why `pattern` cannot be used by regex_match (Polars and PostgreSQL must agree on it), else None."""
    raise NotImplementedError


def check_select(sql: str) -> str | None:
    """Why a custom_sql condition is refused (not one read-only expression or SELECT), else None."""
    raise NotImplementedError
