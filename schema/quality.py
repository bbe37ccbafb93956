"""GraphQL types, queries, mutations and the subscription of the quality domain."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from resolvers.quality import rules as domain
from resolvers.quality import runs
from resolvers.views.quality import DatasetProfileView, QualityResultView, QualityRuleView
from schema.error_types import ConflictError, NotFoundError, ValidationError
from schema.permissions import needs

QualityRuleType = strawberry.enum(Enum("QualityRuleType", {v.upper(): v for v in domain.RULE_TYPES}),
                                  description="What a quality rule checks.")
QualitySeverity = strawberry.enum(Enum("QualitySeverity", {v.upper(): v for v in domain.SEVERITIES}),
                                  description="How much a failing rule matters (weights the dataset's score).")
QualityResultStatus = strawberry.enum(Enum("QualityResultStatus", {v.upper(): v for v in runs.RESULT_STATUSES}),
                                      description="State of one run of a quality rule.")


@strawberry.type(description="When a rule runs by itself: a cron expression in a time zone.")
class QualityRuleSchedule:
    cron: str = strawberry.field(description="5 fields (or 6, seconds first).")
    timezone: str = strawberry.field(description="IANA time zone of the expression.")
    next_runs: list[datetime] = strawberry.field(description="The next fire times (none while disabled).")


@strawberry.input(description="A rule's schedule.")
class QualityRuleScheduleInput:
    cron: str = strawberry.field(description="5 fields (or 6, seconds first).")
    timezone: str = strawberry.field(default="UTC", description="IANA time zone of the expression.")


@strawberry.type(description="A quality rule of a dataset.")
class QualityRule:
    id: strawberry.ID = strawberry.field(description="Opaque id, `qr_...`.")
    name: str = strawberry.field(description="Name of the rule.")
    description: str = strawberry.field(description="Free text.")
    dataset_id: strawberry.ID = strawberry.field(description="The dataset it checks.")
    rule_type: QualityRuleType = strawberry.field(description="What it checks.")
    config: JSON = strawberry.field(description="The rule type's settings, `threshold` included as saved.")
    threshold: float = strawberry.field(description="Share of rows that must pass, 0 to 1 (1 when absent).")
    severity: QualitySeverity = strawberry.field(description="info, warning or error.")
    enabled: bool = strawberry.field(description="Whether it runs and counts in the dataset's score.")
    version: int = strawberry.field(description="Bumped when what it checks changes; results name it.")
    schedule: QualityRuleSchedule | None = strawberry.field(description="When it runs by itself, if ever.")
    latest_status: QualityResultStatus | None = strawberry.field(description="Status of its newest finished run.")
    created_by: str = strawberry.field(description="Who created it.")
    created_at: datetime = strawberry.field(description="Creation time.")
    updated_at: datetime = strawberry.field(description="Last change.")

    @classmethod
    def from_view(cls, rule: QualityRuleView) -> QualityRule:
        return cls(id=strawberry.ID(rule.id), name=rule.name, description=rule.description,
                   dataset_id=strawberry.ID(rule.dataset_id), rule_type=QualityRuleType(rule.rule_type),
                   config=rule.config, threshold=rule.threshold, severity=QualitySeverity(rule.severity),
                   enabled=rule.enabled, version=rule.version,
                   schedule=QualityRuleSchedule(cron=rule.cron, timezone=rule.timezone,
                                                next_runs=list(rule.next_runs)) if rule.cron else None,
                   latest_status=QualityResultStatus(rule.latest_status) if rule.latest_status else None,
                   created_by=rule.created_by, created_at=rule.created_at, updated_at=rule.updated_at)


@strawberry.type(description="One run of a quality rule, kept as history.")
class QualityResult:
    id: strawberry.ID = strawberry.field(description="Opaque id, `qres_...`.")
    rule_id: strawberry.ID = strawberry.field(description="The rule that ran.")
    dataset_id: strawberry.ID = strawberry.field(description="The dataset checked.")
    rule_version: int = strawberry.field(description="Version of the rule that ran.")
    schema_version: int = strawberry.field(description="The dataset's schema version at the run.")
    status: QualityResultStatus = strawberry.field(description="running, passed, failed, error or cancelled.")
    severity: QualitySeverity = strawberry.field(description="The rule's severity at the run.")
    trigger: str = strawberry.field(description="What started the run: manual, schedule or pipeline.")
    job_id: strawberry.ID | None = strawberry.field(
        description="The pipeline job whose quality_check step ran the rule (trigger pipeline).")
    rows_checked: int | None = strawberry.field(description="Rows the check looked at.")
    rows_failed: int | None = strawberry.field(description="Rows that failed it.")
    nulls: int | None = strawberry.field(description="Null values, neither passed nor failed (value rules).")
    pass_ratio: float | None = strawberry.field(description="passed / (passed + failed).")
    threshold: float = strawberry.field(description="Share that had to pass.")
    observed: JSON | None = strawberry.field(description="What was measured (row count, age of the newest row).")
    sample: JSON | None = strawberry.field(
        description="Up to 20 failing rows, sensitive columns masked; null without read:datasets.")
    error: str | None = strawberry.field(description="Why the check could not run (status error).")
    started_at: datetime = strawberry.field(description="When the run started.")
    finished_at: datetime | None = strawberry.field(description="When it ended.")
    duration_s: float | None = strawberry.field(description="How long it took, in seconds.")

    @classmethod
    def from_view(cls, result: QualityResultView) -> QualityResult:
        return cls(id=strawberry.ID(result.id), rule_id=strawberry.ID(result.rule_id),
                   dataset_id=strawberry.ID(result.dataset_id), rule_version=result.rule_version,
                   schema_version=result.schema_version, status=QualityResultStatus(result.status),
                   severity=QualitySeverity(result.severity), trigger=result.trigger,
                   job_id=strawberry.ID(result.job_id) if result.job_id else None,
                   rows_checked=result.rows_checked, rows_failed=result.rows_failed, nulls=result.nulls,
                   pass_ratio=result.pass_ratio, threshold=result.threshold, observed=result.observed,
                   sample=list(result.sample) if result.sample is not None else None, error=result.error,
                   started_at=result.started_at, finished_at=result.finished_at, duration_s=result.duration_s)


@strawberry.input(description="A new quality rule; config is checked for its rule type.")
class CreateQualityRuleInput:
    name: str = strawberry.field(description="Name of the rule.")
    dataset_id: strawberry.ID = strawberry.field(description="The dataset to check.")
    rule_type: QualityRuleType = strawberry.field(description="What to check.")
    config: JSON = strawberry.field(description="Settings of the rule type (may hold `threshold`).")
    description: str = strawberry.field(default="", description="Free text.")
    severity: QualitySeverity = strawberry.field(default=QualitySeverity.ERROR, description="How much it matters.")
    enabled: bool = strawberry.field(default=True, description="Whether it runs and counts.")
    schedule: QualityRuleScheduleInput | None = strawberry.field(default=None, description="Run on a cron schedule.")


@strawberry.input(description="Changes to a quality rule; omitted fields stay as they are.")
class UpdateQualityRuleInput:
    name: str | None = strawberry.field(default=None, description="New name.")
    description: str | None = strawberry.field(default=None, description="New description.")
    rule_type: QualityRuleType | None = strawberry.field(default=None, description="New rule type (needs config).")
    config: JSON | None = strawberry.field(default=None, description="New settings.")
    severity: QualitySeverity | None = strawberry.field(default=None, description="New severity.")
    enabled: bool | None = strawberry.field(default=None, description="Enable or disable.")
    schedule: QualityRuleScheduleInput | None = strawberry.field(
        default=strawberry.UNSET, description="A new schedule; null removes it; omitted keeps it.")


@strawberry.input(description="Which rules to list; every given criterion must hold.")
class QualityRuleFilter:
    dataset_id: strawberry.ID | None = strawberry.field(default=None, description="Rules of this dataset.")
    rule_type: QualityRuleType | None = strawberry.field(default=None, description="Rules of this type.")
    severity: QualitySeverity | None = strawberry.field(default=None, description="Rules of this severity.")
    enabled: bool | None = strawberry.field(default=None, description="Enabled or disabled rules.")
    latest_status: QualityResultStatus | None = strawberry.field(default=None,
                                                                 description="Rules whose newest run ended so.")


@strawberry.input(description="Which results to list.")
class QualityResultFilter:
    status: QualityResultStatus | None = strawberry.field(default=None, description="Results in this state.")
    since: datetime | None = strawberry.field(default=None, description="Started at or after.")
    until: datetime | None = strawberry.field(default=None, description="Started before.")


def input_dict(value: Any, keep_null: tuple[str, ...] = ("schedule",)) -> dict[str, Any]:
    """An input object as the domain's snake_case mapping: enums as their values, nested inputs as mappings,
    omitted fields left out (null too, except for `keep_null` fields where null means "remove")."""
    data: dict[str, Any] = {}
    for key, item in vars(value).items():
        if item is strawberry.UNSET or (item is None and key not in keep_null):
            continue
        if isinstance(item, Enum):
            item = item.value
        elif hasattr(item, "__strawberry_definition__"):
            item = input_dict(item)
        elif key == "dataset_id":
            item = str(item)
        data[key] = item
    return data


@strawberry.type(description="A rule was created, changed, enabled or disabled. `ruleId` is what any caller with "
                             "write:quality may read; `rule` needs read:quality.")
class QualityRuleSuccess:
    rule: QualityRule = strawberry.field(description="The rule now (needs read:quality).",
                                         extensions=needs(domain.READ))
    rule_id: strawberry.ID = strawberry.field(description="Id of the rule.")
    version: int = strawberry.field(description="Its version now.")

    @classmethod
    def from_view(cls, rule: QualityRuleView) -> QualityRuleSuccess:
        return cls(rule=QualityRule.from_view(rule), rule_id=strawberry.ID(rule.id), version=rule.version)


@strawberry.type(description="A rule was deleted.")
class DeleteQualityRuleSuccess:
    rule_id: strawberry.ID = strawberry.field(description="Id of the deleted rule.")


@strawberry.type(description="A run was started or cancelled; `result` needs read:quality.")
class QualityRunSuccess:
    result: QualityResult = strawberry.field(description="The result now (needs read:quality).",
                                             extensions=needs(domain.READ))
    result_id: strawberry.ID = strawberry.field(description="Id of the result.")
    status: QualityResultStatus = strawberry.field(description="Its status now.")

    @classmethod
    def from_view(cls, result: QualityResultView) -> QualityRunSuccess:
        return cls(result=QualityResult.from_view(result), result_id=strawberry.ID(result.id),
                   status=QualityResultStatus(result.status))


QualityRuleResult = Annotated[QualityRuleSuccess | NotFoundError | ValidationError | ConflictError,
                              strawberry.union("QualityRuleResult")]
DeleteQualityRuleResult = Annotated[DeleteQualityRuleSuccess | NotFoundError,
                                    strawberry.union("DeleteQualityRuleResult")]
QualityRunResult = Annotated[QualityRunSuccess | NotFoundError | ConflictError, strawberry.union("QualityRunResult")]


@strawberry.type(description="The figures of one column in a dataset profile.")
class ColumnProfile:
    name: str = strawberry.field(description="Column name.")
    type: str = strawberry.field(description="Type of the column in the data.")
    row_count: int = strawberry.field(description="Rows profiled.")
    null_count: int = strawberry.field(description="Null values.")
    distinct_count: int | None = strawberry.field(description="Distinct non-null values.")
    distinct_approximate: bool = strawberry.field(description="The distinct count is an estimate (large data).")
    min: JSON | None = strawberry.field(description="Smallest value (numbers, dates, text).")
    max: JSON | None = strawberry.field(description="Largest value.")
    mean: float | None = strawberry.field(description="Mean of a numeric column.")
    min_length: int | None = strawberry.field(description="Shortest text, in characters.")
    max_length: int | None = strawberry.field(description="Longest text, in characters.")


@strawberry.type(description="One profiling of a dataset's data.")
class DatasetProfile:
    id: strawberry.ID = strawberry.field(description="Opaque id, `dp_...`.")
    dataset_id: strawberry.ID = strawberry.field(description="The dataset profiled.")
    schema_version: int = strawberry.field(description="The dataset's schema version at the time.")
    status: str = strawberry.field(description="running, succeeded, failed or cancelled.")
    row_count: int | None = strawberry.field(description="Rows in the data.")
    columns: list[ColumnProfile] = strawberry.field(description="Figures per column, in the data's order.")
    error: str | None = strawberry.field(description="Why profiling failed.")
    started_at: datetime = strawberry.field(description="When it started.")
    finished_at: datetime | None = strawberry.field(description="When it ended.")
    duration_s: float | None = strawberry.field(description="How long it took, in seconds.")

    @classmethod
    def from_view(cls, view: DatasetProfileView) -> DatasetProfile:
        return cls(id=strawberry.ID(view.id), dataset_id=strawberry.ID(view.dataset_id),
                   schema_version=view.schema_version, status=view.status, row_count=view.row_count,
                   columns=[ColumnProfile(**{name: getattr(c, name) for name in c.__slots__}) for c in view.columns],
                   error=view.error, started_at=view.started_at, finished_at=view.finished_at,
                   duration_s=view.duration_s)


@strawberry.type(description="Profiling was started (the profile is running) or has finished.")
class DatasetProfileSuccess:
    profile: DatasetProfile = strawberry.field(description="The profile now.")


ProfileDatasetResult = Annotated[DatasetProfileSuccess | NotFoundError, strawberry.union("ProfileDatasetResult")]
CancelProfileResult = Annotated[DatasetProfileSuccess | NotFoundError | ConflictError,
                                strawberry.union("CancelProfileResult")]
