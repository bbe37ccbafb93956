"""A dataset's quality score: the severity-weighted share of its enabled rules whose latest result passed."""

from __future__ import annotations

from server.models.datasets import Dataset
from server.models.quality import QualityResult, QualityRule

# An error rule counts three times an info rule, a warning twice.
WEIGHTS = {"info": 1.0, "warning": 2.0, "error": 3.0}
FINISHED = ("passed", "failed", "error")


def score(latest: list[tuple[str, str]]) -> float | None:
    """`latest` holds (severity, status) of each enabled rule's newest finished result; None when empty.

    score = sum(weight of passed rules) / sum(weight of all), in [0, 1]; an `error` result counts as failed.
    """
    total = sum(WEIGHTS[severity] for severity, _ in latest)
    if not total:
        return None
    passed = sum(WEIGHTS[severity] for severity, status in latest if status == "passed")
    return round(passed / total, 4)


async def refresh_score(dataset_id: str) -> float | None:
    """Recompute and store the dataset's score from its rules' newest finished results."""
    rules = await QualityRule.filter(dataset_id=dataset_id, enabled=True, latest_result_id__isnull=False) \
        .values("severity", "latest_result_id")
    statuses = dict(await QualityResult.filter(
        id__in=[rule["latest_result_id"] for rule in rules], status__in=FINISHED).values_list("id", "status")) \
        if rules else {}
    latest = [(rule["severity"], statuses[rule["latest_result_id"]]) for rule in rules
              if rule["latest_result_id"] in statuses]
    value = score(latest)
    await Dataset.filter(id=dataset_id).update(quality_score=value)
    return value
