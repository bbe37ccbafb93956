"""Dataset schemas: field definitions, and the compatibility of one version with another.

Backward compatible means a reader using the new schema can read data written with the
old one; forward compatible means a reader still on the old schema can read new data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import pydantic

from resolvers.errors import ValidationError
from resolvers.validation import StrictInput, parse
from server.engine.dataplane.typenames import DOCC_TYPES

# The one list of field types is the data plane's: a type it cannot read or write is not a type.
FIELD_TYPES = DOCC_TYPES
FieldType = Literal[FIELD_TYPES]  # type: ignore[valid-type]
MODES = ("BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE",
         "FULL", "FULL_TRANSITIVE", "NONE")
DEFAULT_MODE = "BACKWARD"

# Values of the key type fit losslessly into each of the value types.
WIDENINGS: dict[str, frozenset[str]] = {
    "integer": frozenset({"bigint", "double", "decimal"}),
    "bigint": frozenset({"decimal"}),
    "float": frozenset({"double"}),
    "date": frozenset({"timestamp"}),
}


class SchemaField(StrictInput):
    name: str = pydantic.Field(min_length=1, max_length=128, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    type: FieldType
    nullable: bool = True
    description: str | None = None
    precision: int | None = pydantic.Field(default=None, ge=1, le=76)
    scale: int | None = pydantic.Field(default=None, ge=0, le=76)
    items: FieldType | None = None
    values: FieldType | None = None
    # Marks personal or secret data: quality samples mask it. Left out of the stored field unless given.
    sensitive: bool | None = None


class SchemaDefinition(StrictInput):
    fields: list[SchemaField] = pydantic.Field(max_length=1000)


def read_schema(data: Any, prefix: str = "schema") -> SchemaDefinition:
    """A `{"fields": [...]}` document as the typed input the domain takes; raises ValidationError."""
    return parse(SchemaDefinition, data, "schema", prefix)


def parse_schema(data: Any, prefix: str = "schema") -> list[dict[str, Any]]:
    """Validate a `{"fields": [...]}` document; returns the fields as plain dicts."""
    return checked_fields(read_schema(data, prefix), prefix)


def checked_fields(definition: SchemaDefinition, prefix: str = "schema") -> list[dict[str, Any]]:
    """The rules across fields of a parsed schema; returns the fields as stored; raises ValidationError."""
    seen: set[str] = set()
    for index, item in enumerate(definition.fields):
        key = item.name.lower()
        if key in seen:
            raise ValidationError("Invalid schema", field=f"{prefix}.fields[{index}].name",
                                  reason=f"Duplicate field name '{item.name}'")
        seen.add(key)
        if item.type != "decimal" and (item.precision is not None or item.scale is not None):
            raise ValidationError("Invalid schema", field=f"{prefix}.fields[{index}].precision",
                                  reason="precision and scale apply to decimal fields only")
        if item.items is not None and item.type != "array":
            raise ValidationError("Invalid schema", field=f"{prefix}.fields[{index}].items",
                                  reason="items applies to array fields only")
        if item.values is not None and item.type != "map":
            raise ValidationError("Invalid schema", field=f"{prefix}.fields[{index}].values",
                                  reason="values applies to map fields only")
    return [item.model_dump(exclude_none=True) for item in definition.fields]


@dataclass(frozen=True)
class SchemaChange:
    """One difference between two schema versions and whom it breaks."""

    change: str
    field: str
    old: Any
    new: Any
    breaks_backward: bool
    breaks_forward: bool
    reason: str


@dataclass(frozen=True)
class CompatibilityReport:
    """The outcome of checking a proposed schema against the stored versions."""

    compatibility: str
    compatible: bool
    current_version: int
    changes: list[SchemaChange]
    violations: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _type_label(spec: dict[str, Any]) -> str:
    label = spec["type"]
    if label == "decimal" and "precision" in spec:
        label += f"({spec['precision']},{spec.get('scale', 0)})"
    if "items" in spec:
        label += f"<{spec['items']}>"
    if "values" in spec:
        label += f"<{spec['values']}>"
    return label


def _type_change(name: str, old: dict[str, Any], new: dict[str, Any]) -> SchemaChange | None:
    old_label, new_label = _type_label(old), _type_label(new)
    if old_label == new_label:
        return None
    if new["type"] in WIDENINGS.get(old["type"], ()):
        return SchemaChange("type_changed", name, old_label, new_label, False, True,
                            f"Widening {old_label} to {new_label}: old readers cannot read new values")
    if old["type"] in WIDENINGS.get(new["type"], ()):
        return SchemaChange("type_changed", name, old_label, new_label, True, False,
                            f"Narrowing {old_label} to {new_label}: stored values may not fit")
    return SchemaChange("type_changed", name, old_label, new_label, True, True,
                        f"{old_label} and {new_label} are not convertible")


def diff_schemas(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[SchemaChange]:
    """Every change from `old` to `new`, in the order of the fields."""
    old_by_name = {f["name"]: f for f in old}
    new_by_name = {f["name"]: f for f in new}
    changes: list[SchemaChange] = []
    for name, spec in new_by_name.items():
        before = old_by_name.get(name)
        if before is None:
            required = not spec.get("nullable", True)
            changes.append(SchemaChange(
                "added", name, None, _type_label(spec), required, False,
                "New required field: old data has no value for it" if required
                else "New nullable field: old data reads as null"))
            continue
        type_change = _type_change(name, before, spec)
        if type_change:
            changes.append(type_change)
        was, now = before.get("nullable", True), spec.get("nullable", True)
        if was != now:
            changes.append(SchemaChange(
                "nullability_changed", name, was, now, not now, now,
                "Field became required: old data may hold nulls" if not now
                else "Field became nullable: old readers do not expect nulls"))
    for name, spec in old_by_name.items():
        if name not in new_by_name:
            required = not spec.get("nullable", True)
            changes.append(SchemaChange(
                "removed", name, _type_label(spec), None, False, required,
                "Removed required field: old readers expect a value" if required
                else "Removed nullable field: old readers read null"))
    return changes


def _breaks(change: SchemaChange, mode: str) -> bool:
    base = mode.removesuffix("_TRANSITIVE")
    if base == "BACKWARD":
        return change.breaks_backward
    if base == "FORWARD":
        return change.breaks_forward
    if base == "FULL":
        return change.breaks_backward or change.breaks_forward
    return False


def check_compatibility(history: list[list[dict[str, Any]]], proposed: list[dict[str, Any]],
                        mode: str = DEFAULT_MODE) -> CompatibilityReport:
    """Check `proposed` against `history` (oldest first, the last is current) under `mode`."""
    if mode not in MODES:
        raise ValidationError("Invalid compatibility mode", field="compatibility",
                              reason=f"Expected one of {', '.join(MODES)}")
    current_version = len(history)
    changes = diff_schemas(history[-1], proposed) if history else []
    compared = range(current_version) if mode.endswith("_TRANSITIVE") else range(current_version - 1,
                                                                                  current_version)
    violations: list[dict[str, Any]] = []
    for index in compared:
        if index < 0:
            continue
        breaking = changes if index == current_version - 1 else diff_schemas(history[index], proposed)
        for change in breaking:
            if _breaks(change, mode):
                violations.append({"version": index + 1, "field": change.field,
                                   "change": change.change, "reason": change.reason})
    return CompatibilityReport(mode, not violations, current_version, changes, violations)
