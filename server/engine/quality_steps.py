"""Saved quality rules in pipeline jobs: expanded into a quality_check step's inline checks before the run,
and each one's outcome, reported by the job's process, stored as a result of the rule."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from server.engine.quality_runs import checked_outcome
from server.models.base import new_id
from server.models.datasets import Dataset
from server.models.quality import QualityResult, QualityRule


async def record_step_outcome(job_id: str, workspace_id: str, created_by: str, check: dict[str, Any],
                              outcome: Any, started_at: datetime, finished_at: datetime) -> str | None:
    """Store the outcome of a saved rule run by a pipeline's quality_check step as a result of the rule
    (trigger `pipeline`, with the job's id); `check` is what expand_quality_steps noted for it. Returns the
    result's id, or None when the rule is gone or the outcome is not one."""
    values = checked_outcome(outcome)
    if values is None:
        return None
    rule = await QualityRule.get_or_none(id=check["rule_id"], workspace_id=workspace_id)
    if rule is None:
        return None
    dataset = await Dataset.get_or_none(id=rule.dataset_id)  # type: ignore[attr-defined]
    if dataset is None:
        return None
    threshold = check.get("threshold")
    row = await QualityResult.create(
        id=new_id("qres"), workspace_id=workspace_id, rule_id=rule.id, dataset_id=dataset.id,
        rule_version=check["rule_version"], schema_version=dataset.schema_version, severity=check["severity"],
        threshold=float(threshold) if isinstance(threshold, int | float) and not isinstance(threshold, bool) else 1.0,
        started_at=started_at, finished_at=finished_at,
        duration_s=round(max((finished_at - started_at).total_seconds(), 0.0), 6), trigger="pipeline",
        created_by=created_by, job_id=job_id, **values)
    return row.id


async def expand_quality_steps(workspace_id: str, steps: list[dict[str, Any]],
                               saved: dict[tuple[str, int], dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The steps with each quality_check `{"rules": [...]}` replaced by the rules' current definitions as
    inline checks (ids as keys), so the job's process needs nothing from the database. A rule deleted since
    the pipeline was saved stays as a `missing` check: the step fails on it.

    `saved`, when given, is filled with (step id, index of the check) -> {rule_id, rule_version, threshold,
    severity} of each saved rule: what the parent needs to store the outcome the child reports for it, known
    here and never taken from the child."""
    expanded = []
    for step in steps:
        config = (step.get("config") or {}) if isinstance(step, dict) else {}
        if not isinstance(step, dict) or step.get("type") != "quality_check" or "rules" not in config:
            expanded.append(step)
            continue
        rows = {row.id: row for row in await QualityRule.filter(workspace_id=workspace_id,
                                                                 id__in=[str(r) for r in config["rules"]])}
        checks = [{"key": row.id, "rule_type": row.rule_type, "config": row.config, "severity": row.severity}
                  if (row := rows.get(rule_id)) is not None else {"key": rule_id, "missing": True, "severity": "error"}
                  for rule_id in config["rules"]]
        if saved is not None:
            for index, rule_id in enumerate(config["rules"]):
                if (row := rows.get(rule_id)) is not None:
                    saved[(str(step.get("id")), index)] = {
                        "rule_id": row.id, "rule_version": row.version, "severity": row.severity,
                        "threshold": (row.config or {}).get("threshold")}
        expanded.append({**step, "config": {"checks": checks}})
    return expanded
