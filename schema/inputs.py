"""Strawberry inputs to the domain's typed input models, through the same plain dicts REST sends."""

from __future__ import annotations

import dataclasses
from enum import Enum
from typing import Any, TypeVar

import pydantic
from strawberry import UNSET

from resolvers.validation import parse

M = TypeVar("M", bound=pydantic.BaseModel)


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


def to_model(model: type[M], value: Any, what: str, prefix: str = "") -> M:
    """A GraphQL input as the domain's input model; raises ValidationError naming the field as REST would."""
    return parse(model, to_plain(value), what, prefix)
