"""Strawberry inputs to the plain mappings the domain's input models validate (the same objects REST sends)."""

from __future__ import annotations

import dataclasses
from enum import Enum
from typing import Any

from strawberry import UNSET


def to_plain(value: Any) -> Any:
    """Inputs become dicts (unset fields left out), enums their values, lists element-wise."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return [to_plain(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        plain: dict[str, Any] = {}
        for item in dataclasses.fields(value):
            field_value = getattr(value, item.name)
            if field_value is UNSET:
                continue
            name = item.metadata.get("wire_name", item.name)
            plain[name] = to_plain(field_value)
        return plain
    return value


def given(value: Any) -> dict[str, Any]:
    """The fields of one input object the client gave (unset ones left out), values as they are."""
    return {item.name: field_value for item in dataclasses.fields(value)
            if (field_value := getattr(value, item.name)) is not UNSET}
