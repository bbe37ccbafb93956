"""`quality_check` steps of pipelines, as the domain sees them: validated at save, expanded before a run.

The data plane checks the step's shape (`check_gate_config`); here each inline check's config is checked
for its rule type, and each saved rule must be one of the workspace's. Before a job runs, saved rules are
expanded into inline checks (their ids as keys), so the job's process needs nothing from the database.
"""

from __future__ import annotations

from typing import Any

from resolvers.errors import ValidationError
from resolvers.ownership import well_formed_id
from resolvers.principal import Principal
from resolvers.quality.configs import parse_config
from server.models.quality import QualityRule

STEP_TYPE = "quality_check"


def _quality_steps(steps: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    return [(i, step.get("config") or {}) for i, step in enumerate(steps)
            if isinstance(step, dict) and step.get("type") == STEP_TYPE]


async def check_quality_steps(principal: Principal, steps: list[dict[str, Any]]) -> None:
    """Check every quality_check step's checks and rules (after the data plane checked shapes); raises
    ValidationError naming the field (`steps[2].config.checks[0].config.pattern`)."""
    for index, config in _quality_steps(steps):
        at = f"steps[{index}].config"
        for position, check in enumerate(config.get("checks") or []):
            parse_config(check["rule_type"], check.get("config") or {}, f"{at}.checks[{position}].config")
        wanted = list(config.get("rules") or [])
        valid = [rule_id for rule_id in wanted if well_formed_id(rule_id)]
        found = set(await QualityRule.filter(workspace_id=principal.workspace_id, id__in=valid).values_list(
            "id", flat=True)) if valid else set()
        for position, rule_id in enumerate(wanted):
            if rule_id not in found:
                raise ValidationError("Invalid pipeline configuration", field=f"{at}.rules[{position}]",
                                      reason=f"Quality rule '{rule_id}' does not exist in this workspace")


async def expand_quality_steps(workspace_id: str, steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The steps with each `{"rules": [...]}` replaced by the rules' current definitions as inline checks.

    A rule deleted since the pipeline was saved stays as a `missing` check: the step fails on it.
    """
    expanded = []
    for step in steps:
        config = step.get("config") or {} if isinstance(step, dict) else {}
        if not isinstance(step, dict) or step.get("type") != STEP_TYPE or "rules" not in config:
            expanded.append(step)
            continue
        ids = [rule_id for rule_id in config["rules"] if well_formed_id(rule_id)]
        rows = {row.id: row for row in await QualityRule.filter(workspace_id=workspace_id, id__in=ids)}
        checks = []
        for rule_id in config["rules"]:
            row = rows.get(rule_id)
            if row is None:
                checks.append({"key": rule_id, "missing": True, "severity": "error"})
            else:
                checks.append({"key": row.id, "rule_type": row.rule_type, "config": row.config,
                               "severity": row.severity})
        expanded.append({**step, "config": {"checks": checks}})
    return expanded
