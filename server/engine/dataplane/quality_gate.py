"""The `quality_check` pipeline step: checks on the rows flowing through, gating the sinks after it.

`{"checks": [{"rule_type", "config", "severity"}]}` runs inline checks; `{"rules": ["qr_..."]}` names saved
rules, which the job's parent expands into inline checks (with their ids as keys) before the run, so the
job's process never reads the server's database. A failed (or unrunnable) `error` check fails the step,
and with it the job before any later sink writes; `warning` and `info` ones are logged and the rows flow on.

Wiring (for the runner): validate with `gate_config.check_gate_config(config, at)`; at run time, give the
step's input frame to `run_gate`, which returns the outcomes or raises StepFailed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl

from .errors import StepFailed
from .policy import Policy
from .quality import CheckOutcome, CheckSpec, evaluate_frame

Log = Callable[[str, str | None, str], None]
# Told (index of the check in the step's `checks`, its outcome) for every check that ran.
OnOutcome = Callable[[int, CheckOutcome], None]


def _ignore(_index: int, _outcome: CheckOutcome) -> None:
    return None


def indexed_specs(config: dict[str, Any], step_id: str) -> list[tuple[int, CheckSpec]]:
    """The inline checks of an (expanded) quality_check config as engine specs, with their index."""
    specs = []
    for index, check in enumerate(config.get("checks", [])):
        if check.get("missing"):
            continue
        settings = dict(check.get("config") or {})
        threshold = settings.get("threshold")
        specs.append((index, CheckSpec(key=str(check.get("key") or f"{step_id}.checks[{index}]"),
                                       rule_type=check["rule_type"], config=settings,
                                       threshold=1.0 if threshold is None else float(threshold),
                                       severity=check.get("severity", "error"))))
    return specs


def specs_of(config: dict[str, Any], step_id: str) -> list[CheckSpec]:
    """The inline checks of an (expanded) quality_check config as engine specs."""
    return [spec for _, spec in indexed_specs(config, step_id)]


def _describe(spec: CheckSpec, outcome: CheckOutcome) -> str:
    if outcome.status == "error":
        return f"{spec.rule_type} check {spec.key} could not run: {outcome.error}"
    ratio = "n/a" if outcome.pass_ratio is None else f"{outcome.pass_ratio:.4f}"
    return (f"{spec.rule_type} check {spec.key} {outcome.status}: {outcome.rows_failed} of {outcome.rows_checked} "
            f"rows failed, {outcome.nulls} nulls, pass ratio {ratio} (threshold {spec.threshold:g})")


def run_gate(frame: pl.LazyFrame, config: dict[str, Any], *, step_id: str, schema_fields: list[dict],
             sensitive: set[str], log: Log, references: dict[str, dict[str, Any]] | None = None,
             policy: Policy | None = None, on_outcome: OnOutcome = _ignore) -> list[CheckOutcome]:
    """Evaluate the step's checks on `frame`; raises StepFailed when an `error` check did not pass.

    `references` holds the sources of the datasets `referential` checks name, read through `policy`
    (the job's data-plane policy) like any source; `on_outcome` is told each check's outcome.
    """
    if "rules" in config:
        raise StepFailed(step_id, "saved rules were not expanded before the run")
    indexed = indexed_specs(config, step_id)
    specs = [spec for _, spec in indexed]
    outcomes = evaluate_frame(frame, specs, schema_fields=schema_fields, sensitive=sensitive,
                              references=references, policy=policy)
    for (index, _), outcome in zip(indexed, outcomes, strict=True):
        on_outcome(index, outcome)
    blocking = [str(check.get("key")) for check in config.get("checks", []) if check.get("missing")]
    for key in blocking:
        log("error", step_id, f"quality rule {key} was deleted since the pipeline was saved")
    for spec, outcome in zip(specs, outcomes, strict=True):
        passed = outcome.status == "passed"
        level = "info" if passed else "error" if spec.severity == "error" else "warning"
        log(level, step_id, _describe(spec, outcome))
        if not passed and spec.severity == "error":
            blocking.append(spec.key)
    if blocking:
        raise StepFailed(step_id, f"quality check failed: {', '.join(blocking)}; no later sink was written")
    return outcomes
