"""DOCC field type names and the check of a type spec, without Polars (types.py maps them to Polars types)."""

from __future__ import annotations

from typing import Any

from .errors import DataPlaneConfigError

DOCC_TYPES = (
    "string", "integer", "bigint", "float", "double", "decimal",
    "boolean", "date", "timestamp", "array", "map", "object",
)


def check_type(field: dict[str, Any] | str) -> None:
    """Refuse a schema field (or bare type name) whose type is unknown or out of range; raises DataPlaneConfigError."""
    spec = {"type": field} if isinstance(field, str) else field
    kind = spec.get("type")
    if kind == "decimal":
        precision, scale = spec.get("precision") or 38, spec.get("scale") or 0
        if not (isinstance(precision, int) and isinstance(scale, int) and 0 <= scale <= precision <= 38):
            raise DataPlaneConfigError("decimal precision/scale out of range", field="type",
                                       reason="decimal needs 0 <= scale <= precision <= 38")
    elif kind == "array":
        items = spec.get("items", "string")
        check_type(items if isinstance(items, dict | str) else "string")
    elif kind not in DOCC_TYPES:
        raise DataPlaneConfigError(f"unknown type {kind!r}; expected one of {', '.join(DOCC_TYPES)}",
                                   field="type", reason="Unknown type")
