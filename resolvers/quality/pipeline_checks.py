"""`quality_check` steps of pipelines, as the domain sees them: validated when the pipeline is saved.

The data plane checks the step's shape (`check_gate_config`); here each inline check's config is checked
for its rule type, and each saved rule must be one of the workspace's. Before a job runs, the engine
expands saved rules into inline checks (server.engine.quality_steps.expand_quality_steps).
"""

from __future__ import annotations

from typing import Any

from resolvers.errors import ValidationError, echo
from resolvers.ownership import well_formed_id
from resolvers.principal import Principal
from resolvers.quality.configs import parse_config
from server.models.datasets import Dataset
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
            if "missing" in check:  # The engine's mark of a deleted saved rule, never a client's.
                raise ValidationError("Invalid pipeline configuration", field=f"{at}.checks[{position}].missing",
                                      reason="Unknown key")
            where = f"{at}.checks[{position}].config"
            model = parse_config(check["rule_type"], check.get("config") or {}, where)
            if check["rule_type"] == "referential":  # Only a dataset of the same workspace may be read.
                ref = getattr(model, "dataset_id", "")
                if not (well_formed_id(ref) and await Dataset.filter(
                        id=ref, workspace_id=principal.workspace_id).exists()):
                    raise ValidationError("Invalid pipeline configuration", field=f"{where}.dataset_id",
                                          reason=f"Dataset '{ref}' does not exist in this workspace")
        wanted = list(config.get("rules") or [])
        valid = [rule_id for rule_id in wanted if well_formed_id(rule_id)]
        found = set(await QualityRule.filter(workspace_id=principal.workspace_id, id__in=valid).values_list(
            "id", flat=True)) if valid else set()
        for position, rule_id in enumerate(wanted):
            if rule_id not in found:
                raise ValidationError("Invalid pipeline configuration", field=f"{at}.rules[{position}]",
                                      reason=f"Quality rule '{echo(rule_id)}' does not exist in this workspace")
