"""Quality rules, the results of their runs, and dataset profiles.

Statuses and kinds are plain strings in answers, so a newer server's new value never breaks an older SDK;
the request models name the values the server accepts (the OpenAPI check keeps them in step).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Protocol, get_args

from pydantic import Field

from docc.models.common import Input, Model

RuleType = Literal["not_null", "unique", "regex_match", "accepted_values", "range", "length", "row_count",
                   "freshness", "schema_match", "referential", "custom_sql"]
Severity = Literal["info", "warning", "error"]
RULE_TYPES: tuple[str, ...] = get_args(RuleType)
SEVERITIES: tuple[str, ...] = get_args(Severity)
# A result's status while and after it runs; the last three are outcomes of a finished check.
RESULT_STATUSES = ("running", "passed", "failed", "error", "cancelled")
# A run that ended like this did not pass: `docc quality rules run --wait` exits non-zero on it.
NOT_PASSED: frozenset[str] = frozenset({"failed", "error", "cancelled"})


class _HasStatus(Protocol):
    status: str


class _Finishes:
    """`finished` of an answer with a `status` (declared by each model, so field order stays its own)."""

    @property
    def finished(self: _HasStatus) -> bool:
        return self.status != "running"


class _Checked(_Finishes):
    """`finished` and `passed` of a quality check's answer."""

    @property
    def passed(self: _HasStatus) -> bool:
        return self.status == "passed"


class RuleSchedule(Model):
    """A rule's own cron schedule, with its next fire times (empty while the rule is disabled)."""

    cron: str
    timezone: str
    next_runs: list[datetime] = Field(default_factory=list)


class QualityRule(Model):
    id: str
    name: str
    description: str
    dataset_id: str
    rule_type: str
    config: dict[str, Any]
    severity: str
    enabled: bool
    version: int
    schedule: RuleSchedule | None = None
    # The status of the newest finished result (`passed`, `failed`, `error`), None before the first.
    latest_status: str | None = None
    created_by: str | None = None
    created_at: datetime
    updated_at: datetime


class QualityRuleAck(Model):
    """What a key holding write:quality but not read:quality learns of the rule it wrote."""

    id: str
    version: int


class QualityResult(Model, _Checked):
    id: str
    rule_id: str
    dataset_id: str
    rule_version: int
    schema_version: int
    status: str
    severity: str
    trigger: str
    rows_checked: int | None = None
    rows_failed: int | None = None
    nulls: int | None = None
    pass_ratio: float | None = None
    threshold: float
    observed: Any = None
    # Failing rows (sensitive columns masked); None for a caller without read:datasets.
    sample: list[dict[str, Any]] | None = None
    error: str | None = None
    started_at: datetime
    finished_at: datetime | None = None
    duration_s: float | None = None
    # The pipeline job whose `quality_check` step ran the rule (trigger `pipeline`).
    job_id: str | None = None


class QualityResultAck(Model, _Checked):
    """What a key holding write:quality but not read:quality learns of the run it started or cancelled."""

    id: str
    status: str


class ColumnProfile(Model):
    name: str
    type: str
    row_count: int
    null_count: int
    distinct_count: int | None = None
    # True above a million rows: `distinct_count` is then a HyperLogLog estimate.
    distinct_approximate: bool = False
    min: Any = None
    max: Any = None
    mean: float | None = None
    min_length: int | None = None
    max_length: int | None = None


class DatasetProfile(Model, _Finishes):
    id: str
    dataset_id: str
    schema_version: int
    # `running`, then `succeeded` or `failed`.
    status: str
    row_count: int | None = None
    columns: list[ColumnProfile] = Field(default_factory=list)
    error: str | None = None
    started_at: datetime
    finished_at: datetime | None = None
    duration_s: float | None = None


class RuleScheduleSpec(Input):
    cron: str
    timezone: str = "UTC"


class QualityRuleCreate(Input):
    name: str
    dataset_id: str
    rule_type: RuleType
    config: dict[str, Any] = Field(default_factory=dict)
    description: str = ""
    severity: Severity = "error"
    enabled: bool = True
    schedule: RuleScheduleSpec | None = None


class QualityRuleUpdate(Input):
    """Only the fields given change; `schedule=None` given explicitly removes the schedule."""

    name: str | None = None
    description: str | None = None
    rule_type: RuleType | None = None
    config: dict[str, Any] | None = None
    severity: Severity | None = None
    enabled: bool | None = None
    schedule: RuleScheduleSpec | None = None
