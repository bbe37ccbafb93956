"""The `quality_check` pipeline step: checks on the rows flowing through, gating the sinks after it.

`{"checks": [{"rule_type", "config", "severity"}]}` runs inline checks; `{"rules": ["qr_..."]}` names saved
rules, which the job's parent expands into inline checks (with their ids as keys) before the run, so the
job's process never reads the server's database. A failed (or unrunnable) `error` check fails the step,
and with it the job before any later sink writes; `warning` and `info` ones are logged and the rows flow on.

Wiring (for the runner): validate with `check_gate_config(config, at)`; at run time, give the step's input
frame to `run_gate`, which returns the outcomes or raises StepFailed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl

from .errors import DataPlaneConfigError, StepFailed
from .policy import Policy
from .quality import RULE_TYPES, CheckOutcome, CheckSpec, evaluate_frame

SEVERITIES = ("info", "warning", "error")
MAX_CHECKS = 50
GATE_KEYS = {"rules", "checks"}
CHECK_KEYS = {"rule_type", "config", "severity", "key"}

Log = Callable[[str, str | None, str], None]
# Told (index of the check in the step's `checks`, its outcome) for every check that ran.
OnOutcome = Callable[[int, CheckOutcome], None]


def _ignore(_index: int, _outcome: CheckOutcome) -> None:
    return None


def _refuse(field: str, reason: str) -> DataPlaneConfigError:
    return DataPlaneConfigError(f"{field}: {reason}", field=field, reason=reason)


def check_gate_config(config: dict[str, Any], at: str) -> None:
    """The shape of a quality_check step's config (each check's own config is the domain's to validate)."""
    for key in config:
        if key not in GATE_KEYS:
            raise _refuse(f"{at}.{key}", "Unknown key")
    if len(config) != 1:
        raise _refuse(at, "Give exactly one of rules (saved rule ids) or checks (inline checks)")
    if "rules" in config:
        rules = config["rules"]
        if not isinstance(rules, list) or not 1 <= len(rules) <= MAX_CHECKS or len(set(map(str, rules))) != len(rules) \
                or not all(isinstance(rule, str) and rule for rule in rules):
            raise _refuse(f"{at}.rules", f"Must be a list of 1 to {MAX_CHECKS} distinct rule ids")
        return
    checks = config["checks"]
    if not isinstance(checks, list) or not 1 <= len(checks) <= MAX_CHECKS:
        raise _refuse(f"{at}.checks", f"Must be a list of 1 to {MAX_CHECKS} checks")
    for index, check in enumerate(checks):
        where = f"{at}.checks[{index}]"
        if not isinstance(check, dict):
            raise _refuse(where, "A check must be an object")
        if check.get("missing") is True and set(check) == {"key", "missing", "severity"}:
            continue  # A saved rule deleted since the pipeline was saved, as the parent expands it.
        for key in check:
            if key not in CHECK_KEYS:
                raise _refuse(f"{where}.{key}", "Unknown key")
        if check.get("rule_type") not in RULE_TYPES:
            raise _refuse(f"{where}.rule_type", f"Expected one of {', '.join(RULE_TYPES)}")
        if not isinstance(check.get("config", {}), dict):
            raise _refuse(f"{where}.config", "Must be an object")
        if check.get("severity", "error") not in SEVERITIES:
            raise _refuse(f"{where}.severity", f"Expected one of {', '.join(SEVERITIES)}")


def reference_ids(steps: list[dict[str, Any]]) -> list[str]:
    """The datasets that `referential` checks of (expanded) quality_check steps read, without repeats."""
    seen: list[str] = []
    for step in steps:
        if not isinstance(step, dict) or step.get("type") != "quality_check":
            continue
        for check in (step.get("config") or {}).get("checks") or []:
            if isinstance(check, dict) and check.get("rule_type") == "referential":
                ref = (check.get("config") or {}).get("dataset_id")
                if isinstance(ref, str) and ref not in seen:
                    seen.append(ref)
    return seen


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
