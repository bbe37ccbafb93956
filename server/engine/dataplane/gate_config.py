"""The shape of a `quality_check` step's config, checked when a pipeline is saved (no engine loaded).

quality_gate.py runs the step; this module only reads the config: which keys, how many checks, which
rule types and severities, and which datasets its `referential` checks name.
"""

from __future__ import annotations

from typing import Any

from .errors import DataPlaneConfigError
from .quality.spec import RULE_TYPES

SEVERITIES = ("info", "warning", "error")
MAX_CHECKS = 50
GATE_KEYS = {"rules", "checks"}
CHECK_KEYS = {"rule_type", "config", "severity", "key"}


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
