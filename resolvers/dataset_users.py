"""Who uses a dataset: the pipelines and quality rules that would break if it were deleted.

A pipeline uses a dataset when a step names it (`config.dataset_id` of a source or sink), when a
`quality_check` step names a saved rule of it (`config.rules`), or when an inline check of such a step
references it (`referential`, `config.dataset_id`). A quality rule uses it when the rule belongs to it or is a
`referential` rule of another dataset that references it. Deleted pipelines (kept only as job history) use
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from resolvers.views.pipelines import LIVE
from server.models.engine import Pipeline
from server.models.quality import QualityRule

# How many users of each kind an error names: enough to act on, bounded for the response.
MAX_NAMED = 100


@dataclass(frozen=True)
class DatasetUsers:
    """The live pipelines and the quality rules that use one dataset."""

    pipelines: list[dict[str, Any]]
    quality_rules: list[dict[str, Any]]

    def __bool__(self) -> bool:
        return bool(self.pipelines or self.quality_rules)

    def as_details(self, dataset_id: str) -> dict[str, Any]:
        """The `details` of the CONFLICT that refuses to delete the dataset."""
        return {"dataset_id": dataset_id, "pipelines": self.pipelines[:MAX_NAMED],
                "pipelines_total": len(self.pipelines), "quality_rules": self.quality_rules[:MAX_NAMED],
                "quality_rules_total": len(self.quality_rules)}


def _step_uses(step: Any, dataset_id: str, own_rules: set[str]) -> bool:
    config = step.get("config") if isinstance(step, dict) else None
    if not isinstance(config, dict):
        return False
    if config.get("dataset_id") == dataset_id:
        return True
    if step.get("type") != "quality_check":
        return False
    rules = config.get("rules")
    if isinstance(rules, list) and own_rules.intersection(rule for rule in rules if isinstance(rule, str)):
        return True
    checks = config.get("checks")
    return isinstance(checks, list) and any(
        isinstance(check, dict) and check.get("rule_type") == "referential"
        and isinstance(check.get("config"), dict) and check["config"].get("dataset_id") == dataset_id
        for check in checks)


async def dataset_users(workspace_id: str, dataset_id: str) -> DatasetUsers:
    """The pipelines (id, name) and quality rules (id, name, dataset_id, relation) that use the dataset."""
    own = await QualityRule.filter(workspace_id=workspace_id, dataset_id=dataset_id).order_by(
        "created_at", "id").values_list("id", "name")
    referencing = [
        (rule_id, name, owner) for rule_id, name, owner, config in await QualityRule.filter(
            workspace_id=workspace_id, rule_type="referential").exclude(dataset_id=dataset_id).order_by(
            "created_at", "id").values_list("id", "name", "dataset_id", "config")
        if isinstance(config, dict) and config.get("dataset_id") == dataset_id]
    rules = [{"id": rule_id, "name": name, "dataset_id": dataset_id, "relation": "checks"} for rule_id, name in own]
    rules += [{"id": rule_id, "name": name, "dataset_id": owner, "relation": "references"}
              for rule_id, name, owner in referencing]
    own_ids = {rule_id for rule_id, _ in own}
    pipelines = [{"id": pipeline_id, "name": name} for pipeline_id, name, steps in await Pipeline.filter(
        workspace_id=workspace_id, **LIVE).order_by("created_at", "id").values_list("id", "name", "steps")
        if isinstance(steps, list) and any(_step_uses(step, dataset_id, own_ids) for step in steps)]
    return DatasetUsers(pipelines, rules)
