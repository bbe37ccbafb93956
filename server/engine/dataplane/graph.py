"""The pipeline as a graph: whole-pipeline validation, each step's input, and the run order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import DataPlaneConfigError
from .paths import resolve_path
from .policy import Policy
from .validation import validate_step


@dataclass(frozen=True)
class Plan:
    """Steps in run order, each with the id of the step whose data it takes (None for a source)."""

    order: list[dict[str, Any]]
    inputs: dict[str, str | None]
    consumers: dict[str, list[str]]


def validate_steps(steps: list[dict[str, Any]], policy: Policy | None) -> None:
    """Check every step and the graph (ids, depends_on, inputs, cycles); raises DataPlaneConfigError.

    With a policy, a sink's file path must be allowed too (the job checks it again when it writes).
    """
    plan_steps(steps)
    if policy is None:
        return
    for i, step in enumerate(steps):
        config = step.get("config") or {}
        if step.get("type") == "data_sink" and "path" in config:
            resolve_path(policy, config["path"], field=f"steps[{i}].config.path")


def referenced_dataset_ids(steps: list[dict[str, Any]]) -> list[str]:
    """Dataset ids named by data_source and data_sink steps, in step order, without repeats."""
    seen: list[str] = []
    for step in steps:
        dataset_id = (step.get("config") or {}).get("dataset_id") if isinstance(step, dict) else None
        if isinstance(dataset_id, str) and dataset_id not in seen:
            seen.append(dataset_id)
    return seen


def plan_steps(steps: list[dict[str, Any]]) -> Plan:
    """Validate the pipeline and return its run order; raises DataPlaneConfigError."""
    if not isinstance(steps, list) or not steps:
        raise DataPlaneConfigError("steps: a pipeline needs at least one step", field="steps",
                                   reason="At least one step is required")
    index: dict[str, int] = {}
    for i, step in enumerate(steps):
        validate_step(step, at=f"steps[{i}]")
        if step["id"] in index:
            raise DataPlaneConfigError(f"steps[{i}].id: duplicate step id {step['id']!r}",
                                       field=f"steps[{i}].id", reason="Duplicate step id")
        index[step["id"]] = i
    inputs: dict[str, str | None] = {}
    after: dict[str, list[str]] = {}
    for i, step in enumerate(steps):
        deps = step.get("depends_on")
        for dep in deps or []:
            if dep not in index:
                raise DataPlaneConfigError(f"steps[{i}].depends_on: unknown step {dep!r}",
                                           field=f"steps[{i}].depends_on", reason="Unknown step id")
            if dep == step["id"]:
                raise DataPlaneConfigError(f"steps[{i}].depends_on: a step cannot depend on itself",
                                           field=f"steps[{i}].depends_on", reason="Dependency cycle")
        # Without depends_on a step takes the previous step's output (a sink passes its input on).
        ordering = list(deps) if deps is not None else ([steps[i - 1]["id"]] if i else [])
        after[step["id"]] = ordering
        if step["type"] == "data_source":
            inputs[step["id"]] = None
        elif not ordering:
            raise DataPlaneConfigError(
                f"steps[{i}]: a {step['type']} step needs an input (a previous step or depends_on)",
                field=f"steps[{i}].depends_on", reason="Step has no input")
        else:
            inputs[step["id"]] = ordering[0]
    order = _topological(steps, after, index)
    consumers: dict[str, list[str]] = {s["id"]: [] for s in steps}
    for step_id, source in inputs.items():
        if source is not None:
            consumers[source].append(step_id)
    return Plan(order=order, inputs=inputs, consumers=consumers)


def _topological(steps: list[dict[str, Any]], after: dict[str, list[str]],
                 index: dict[str, int]) -> list[dict[str, Any]]:
    # Kahn's algorithm, always taking the earliest ready step so the run follows the written order.
    pending = {sid: set(deps) for sid, deps in after.items()}
    done: list[dict[str, Any]] = []
    while pending:
        ready = sorted((sid for sid, deps in pending.items() if not deps), key=index.__getitem__)
        if not ready:
            first = min(pending, key=index.__getitem__)
            raise DataPlaneConfigError(
                f"steps[{index[first]}].depends_on: dependency cycle through "
                + " -> ".join(sorted(pending, key=index.__getitem__)),
                field=f"steps[{index[first]}].depends_on", reason="Dependency cycle")
        sid = ready[0]
        done.append(steps[index[sid]])
        del pending[sid]
        for deps in pending.values():
            deps.discard(sid)
    return done


def upstream_source(plan: Plan, step_id: str) -> str | None:
    """The data_source step at the root of a step's input chain."""
    current: str | None = step_id
    while current is not None and plan.inputs.get(current) is not None:
        current = plan.inputs[current]
    return current
