"""Quality rules: create, read, list, update, enable, disable and delete, validated before any write."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import pydantic
from tortoise.expressions import Q

from resolvers.errors import Conflict, ValidationError, echo
from resolvers.ownership import load_many_owned, load_owned, well_formed_id
from resolvers.pagination import Page, PageRequest, paginate
from resolvers.principal import Principal
from resolvers.quality.configs import Referential, RuleConfig, columns_of, parse_config
from resolvers.quality.score import refresh_score
from resolvers.schedules import cron_problem, zone_problem
from resolvers.validation import StrictInput
from resolvers.views.quality import QualityRuleView
from server.engine.bus import Event, publish
from server.engine.dataplane.quality import OUTCOME_STATUSES, RULE_TYPES
from server.engine.quality_schedules import QUALITY_SCHEDULES_TOPIC
from server.models.base import new_id
from server.models.datasets import Dataset
from server.models.quality import QualityRule

READ, WRITE = "read:quality", "write:quality"
# A rule is a query on a dataset's data: whoever defines one must be allowed to read that data.
READ_DATA = "read:datasets"
SEVERITIES = ("info", "warning", "error")
RuleType = Literal[RULE_TYPES]  # type: ignore[valid-type]
Severity = Literal[SEVERITIES]  # type: ignore[valid-type]
Name = pydantic.constr(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\- ]*$")  # type: ignore[valid-type]


class RuleSchedule(StrictInput):
    cron: str = pydantic.Field(min_length=1, max_length=120)
    timezone: str = pydantic.Field(default="UTC", min_length=1, max_length=64)


class QualityRuleCreate(StrictInput):
    name: Name
    description: str = pydantic.Field(default="", max_length=10_000)
    dataset_id: str = pydantic.Field(min_length=1, max_length=40)
    rule_type: RuleType
    config: dict[str, Any] = pydantic.Field(default_factory=dict)
    severity: Severity = "error"
    enabled: bool = True
    schedule: RuleSchedule | None = None


class QualityRuleUpdate(StrictInput):
    name: Name | None = None
    description: str | None = pydantic.Field(default=None, max_length=10_000)
    rule_type: RuleType | None = None
    config: dict[str, Any] | None = None
    severity: Severity | None = None
    enabled: bool | None = None
    # Omitted: unchanged; null: the rule no longer runs on a schedule.
    schedule: RuleSchedule | None = None


@dataclass(frozen=True)
class QualityRuleFilter:
    """List filter: every given criterion must hold."""

    dataset_id: str | None = None
    rule_type: str | None = None
    severity: str | None = None
    enabled: bool | None = None
    latest_status: str | None = None

    def __post_init__(self) -> None:
        for field, value, allowed in (("rule_type", self.rule_type, RULE_TYPES),
                                      ("severity", self.severity, SEVERITIES),
                                      ("status", self.latest_status, OUTCOME_STATUSES)):
            if value is not None and value not in allowed:
                raise ValidationError("Invalid filter", field=field, reason=f"Expected one of {', '.join(allowed)}")


def _schema_columns(dataset: Dataset) -> set[str]:
    return {field["name"] for field in dataset.schema_fields}


async def _owned_dataset(principal: Principal, dataset_id: str, field: str) -> Dataset:
    # A dataset of another workspace is as absent as a missing one, and named by field like any bad value.
    row = None
    if well_formed_id(dataset_id):
        row = await Dataset.get_or_none(id=dataset_id, workspace_id=principal.workspace_id)
    if row is None:
        raise ValidationError("Invalid quality rule", field=field,
                              reason=f"Dataset '{echo(dataset_id)}' does not exist in this workspace")
    return row


async def checked_config(principal: Principal, dataset: Dataset, rule_type: str, config: dict[str, Any]) -> RuleConfig:
    """The config validated for its type and against the datasets it names; raises ValidationError."""
    model = parse_config(rule_type, config)
    known = _schema_columns(dataset)
    # A dataset saved without a schema has no column list to check against: the run checks the data itself.
    for field, column in columns_of(model) if known else ():
        if column not in known:
            raise ValidationError("Invalid quality rule", field=field,
                                  reason=f"Dataset '{dataset.id}' has no column '{column}'")
    if isinstance(model, Referential):
        other = await _owned_dataset(principal, model.dataset_id, "config.dataset_id")
        columns = _schema_columns(other)
        if columns and model.ref_column not in columns:
            raise ValidationError("Invalid quality rule", field="config.ref_column",
                                  reason=f"Dataset '{other.id}' has no column '{model.ref_column}'")
    return model


def _checked_schedule(spec: RuleSchedule | None) -> dict[str, Any]:
    if spec is None:
        return {"cron": None, "timezone": "UTC"}
    # The same rules, in the same words, as a pipeline's schedule.
    for field, problem in (("schedule.timezone", zone_problem(spec.timezone)),
                           ("schedule.cron", cron_problem(spec.cron))):
        if problem is not None:
            raise ValidationError("Invalid schedule", field=field, reason=problem)
    return {"cron": spec.cron, "timezone": spec.timezone}


async def _announce(rule_id: str) -> None:
    await publish(Event(QUALITY_SCHEDULES_TOPIC, "changed", {"rule_id": rule_id}))


async def _load(principal: Principal, rule_id: str) -> QualityRule:
    return await load_owned(QualityRule, "quality rule", principal, rule_id)


async def load_rule(principal: Principal, rule_id: str) -> QualityRule:
    """The caller's rule row (for the other quality modules); raises NotFound."""
    return await _load(principal, rule_id)


async def create_rule(principal: Principal, spec: QualityRuleCreate) -> QualityRuleView:
    """Create a rule on a dataset of the caller's workspace; raises Forbidden, ValidationError."""
    principal.require(WRITE)
    principal.require(READ_DATA)
    schedule = _checked_schedule(spec.schedule)
    dataset = await _owned_dataset(principal, spec.dataset_id, "dataset_id")
    await checked_config(principal, dataset, spec.rule_type, spec.config)
    row = await QualityRule.create(
        id=new_id("qr"), workspace_id=principal.workspace_id, dataset_id=dataset.id, name=spec.name,
        description=spec.description, rule_type=spec.rule_type, config=spec.config, severity=spec.severity,
        enabled=spec.enabled, created_by=principal.subject, **schedule)
    if row.cron:
        await _announce(row.id)
    return QualityRuleView.from_row(row)


async def get_rule(principal: Principal, rule_id: str) -> QualityRuleView:
    """One rule of the caller's workspace; raises NotFound."""
    principal.require(READ)
    return QualityRuleView.from_row(await _load(principal, rule_id))


async def get_rules(principal: Principal, rule_ids: list[str]) -> list[QualityRuleView | None]:
    """Rules by id in the order asked, None where missing (for DataLoaders)."""
    principal.require(READ)
    rows = await load_many_owned(QualityRule, principal, rule_ids)
    return [QualityRuleView.from_row(row) if row is not None else None for row in rows]


async def list_rules(principal: Principal, filters: QualityRuleFilter, page: PageRequest) -> Page[QualityRuleView]:
    """A page of the workspace's rules, newest first; raises ValidationError."""
    principal.require(READ)
    query = QualityRule.filter(workspace_id=principal.workspace_id)
    if filters.dataset_id is not None:
        query = query.filter(dataset_id=filters.dataset_id if well_formed_id(filters.dataset_id) else "")
    if filters.rule_type is not None:
        query = query.filter(rule_type=filters.rule_type)
    if filters.severity is not None:
        query = query.filter(severity=filters.severity)
    if filters.enabled is not None:
        query = query.filter(enabled=filters.enabled)
    if filters.latest_status is not None:
        query = query.filter(latest_status=filters.latest_status)
    return (await paginate(query, page)).map(QualityRuleView.from_row)


async def rules_of_datasets(principal: Principal, dataset_ids: list[str]) -> list[list[QualityRuleView]]:
    """Each dataset's rules, oldest first, in the order of `dataset_ids` (one query, for DataLoaders)."""
    principal.require(READ)
    ids = [dataset_id for dataset_id in dataset_ids if well_formed_id(dataset_id)]
    rows = await QualityRule.filter(workspace_id=principal.workspace_id, dataset_id__in=ids).order_by(
        "created_at", "id") if ids else []
    grouped: dict[str, list[QualityRuleView]] = {}
    for row in rows:
        grouped.setdefault(row.dataset_id, []).append(QualityRuleView.from_row(row))  # type: ignore[attr-defined]
    return [grouped.get(dataset_id, []) for dataset_id in dataset_ids]


async def update_rule(principal: Principal, rule_id: str, spec: QualityRuleUpdate) -> QualityRuleView:
    """Change a rule; a change of what it checks bumps its version. Raises NotFound, ValidationError, Conflict."""
    principal.require(WRITE)
    changes = spec.model_dump(exclude_unset=True)
    if not changes:
        raise ValidationError("Nothing to update", field="body", reason="Give at least one field")
    row = await _load(principal, rule_id)
    schedule = _checked_schedule(spec.schedule) if "schedule" in changes else None
    checks_data = any(key in changes for key in ("rule_type", "config"))
    if checks_data:
        principal.require(READ_DATA)
        rule_type = spec.rule_type or row.rule_type
        config = spec.config if spec.config is not None else row.config
        if spec.config is None and rule_type != row.rule_type:
            raise ValidationError("Invalid quality rule", field="config",
                                  reason="A new rule_type needs its own config")
        await checked_config(principal, await Dataset.get(id=row.dataset_id), rule_type,  # type: ignore[attr-defined]
                             config)
    values = {key: value for key, value in changes.items() if value is not None and key != "schedule"}
    if checks_data or "severity" in values:
        values["version"] = row.version + 1
    values.update(schedule or {})
    values["updated_at"] = datetime.now(UTC)
    updated = await QualityRule.filter(id=row.id, version=row.version).update(**values)
    # SQLite counts the rows its triggers touch too (the read generation), so only "nothing updated"
    # is a lost race.
    if updated == 0:
        raise Conflict("The rule was changed by another request; read it again and retry", {"rule_id": row.id})
    if schedule is not None or "enabled" in values:
        await _announce(row.id)
    if "enabled" in values or "severity" in values:
        await refresh_score(row.dataset_id)  # type: ignore[attr-defined]
    return QualityRuleView.from_row(await _load(principal, rule_id))


async def set_enabled(principal: Principal, rule_id: str, enabled: bool) -> QualityRuleView:
    """Enable or disable a rule (a disabled rule does not count in the dataset's score); raises NotFound."""
    principal.require(WRITE)
    row = await _load(principal, rule_id)
    if row.enabled != enabled:
        await QualityRule.filter(id=row.id).update(enabled=enabled, updated_at=datetime.now(UTC))
        await _announce(row.id)
        await refresh_score(row.dataset_id)  # type: ignore[attr-defined]
    return QualityRuleView.from_row(await _load(principal, rule_id))


async def delete_rule(principal: Principal, rule_id: str) -> None:
    """Delete a rule and its results; raises NotFound."""
    principal.require(WRITE)
    row = await _load(principal, rule_id)
    await QualityRule.filter(Q(id=row.id)).delete()
    await _announce(row.id)
    await refresh_score(row.dataset_id)  # type: ignore[attr-defined]
