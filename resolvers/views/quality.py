"""Read models of the quality domain: rules, the results of their runs, and dataset profiles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from resolvers.quality.configs import threshold_of
from resolvers.views.pipelines import next_runs
from server.models.quality import DatasetProfile, QualityResult, QualityRule


@dataclass(frozen=True, slots=True)
class QualityRuleView:
    id: str
    name: str
    description: str
    dataset_id: str
    rule_type: str
    config: dict[str, Any]
    threshold: float
    severity: str
    enabled: bool
    version: int
    cron: str | None
    timezone: str
    # The next fire times in the schedule's zone; empty without a schedule or while disabled.
    next_runs: tuple[datetime, ...]
    latest_status: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: QualityRule) -> QualityRuleView:
        return cls(id=row.id, name=row.name, description=row.description, dataset_id=row.dataset_id,  # type: ignore[attr-defined]
                   rule_type=row.rule_type, config=dict(row.config), threshold=threshold_of(row.config),
                   severity=row.severity, enabled=row.enabled, version=row.version, cron=row.cron,
                   timezone=row.timezone,
                   next_runs=tuple(next_runs(row.cron, row.timezone)) if row.cron and row.enabled else (),
                   latest_status=row.latest_status, created_by=row.created_by,
                   created_at=row.created_at, updated_at=row.updated_at)


@dataclass(frozen=True, slots=True)
class QualityResultView:
    id: str
    rule_id: str
    dataset_id: str
    rule_version: int
    schema_version: int
    status: str
    severity: str
    trigger: str
    # The pipeline job that ran the rule in a quality_check step (trigger `pipeline`).
    job_id: str | None
    rows_checked: int | None
    rows_failed: int | None
    nulls: int | None
    pass_ratio: float | None
    threshold: float
    observed: Any
    # None when the caller may not read the dataset's data (no read:datasets): failing rows are data.
    sample: tuple[dict[str, Any], ...] | None
    error: str | None
    started_at: datetime
    finished_at: datetime | None
    duration_s: float | None
    created_at: datetime

    @property
    def finished(self) -> bool:
        return self.status != "running"

    @classmethod
    def from_row(cls, row: QualityResult, *, show_sample: bool) -> QualityResultView:
        return cls(id=row.id, rule_id=row.rule_id, dataset_id=row.dataset_id, rule_version=row.rule_version,  # type: ignore[attr-defined]
                   schema_version=row.schema_version, status=row.status, severity=row.severity,
                   trigger=row.trigger, job_id=row.job_id, rows_checked=row.rows_checked, rows_failed=row.rows_failed,
                   nulls=row.nulls, pass_ratio=row.pass_ratio, threshold=row.threshold, observed=row.observed,
                   sample=tuple(row.sample or ()) if show_sample else None, error=row.error,
                   started_at=row.started_at, finished_at=row.finished_at, duration_s=row.duration_s,
                   created_at=row.created_at)


@dataclass(frozen=True, slots=True)
class ColumnProfileView:
    name: str
    type: str
    row_count: int
    null_count: int
    distinct_count: int | None
    distinct_approximate: bool
    min: Any
    max: Any
    mean: float | None
    min_length: int | None
    max_length: int | None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnProfileView:
        return cls(name=data["name"], type=data.get("type", ""), row_count=data.get("row_count", 0),
                   null_count=data.get("null_count", 0), distinct_count=data.get("distinct_count"),
                   distinct_approximate=bool(data.get("distinct_approximate")), min=data.get("min"),
                   max=data.get("max"), mean=data.get("mean"), min_length=data.get("min_length"),
                   max_length=data.get("max_length"))


@dataclass(frozen=True, slots=True)
class DatasetProfileView:
    id: str
    dataset_id: str
    schema_version: int
    status: str
    row_count: int | None
    columns: tuple[ColumnProfileView, ...]
    error: str | None
    started_at: datetime
    finished_at: datetime | None
    duration_s: float | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: DatasetProfile) -> DatasetProfileView:
        return cls(id=row.id, dataset_id=row.dataset_id, schema_version=row.schema_version,  # type: ignore[attr-defined]
                   status=row.status, row_count=row.row_count,
                   columns=tuple(ColumnProfileView.from_dict(c) for c in row.columns or ()), error=row.error,
                   started_at=row.started_at, finished_at=row.finished_at, duration_s=row.duration_s,
                   created_at=row.created_at)
