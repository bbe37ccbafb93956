"""The configuration of each rule type: one strict model per type, checked when a rule is saved.

The engine checks every value again when the rule runs (the dataset may have changed since); here a bad
value is refused before anything is stored, with the field named (`config.pattern`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import pydantic

from resolvers.errors import ValidationError
from resolvers.validation import StrictInput, parse
from server.engine.dataplane.quality import RULE_TYPES, check_pattern, check_select

Column = pydantic.constr(min_length=1, max_length=128, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")  # type: ignore[valid-type]


def _scalar(value: Any) -> Any:
    if not isinstance(value, str | int | float | bool):
        raise ValueError("expected a string, number or boolean")
    if isinstance(value, str) and len(value) > 1_000:
        raise ValueError("at most 1000 characters")
    return value


# One check per value (not a union), so an error names the value's index alone: `config.values[2]`.
Scalar = Annotated[Any, pydantic.AfterValidator(_scalar)]
Threshold = pydantic.confloat(ge=0.0, le=1.0)  # type: ignore[valid-type]
MAX_VALUES, MAX_COLUMNS, MAX_PATTERN, MAX_CONDITION = 1_000, 32, 1_000, 10_000
DURATION = re.compile(r"^([1-9][0-9]{0,8})([smhdw])$")
SECONDS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800}


class RuleConfig(StrictInput):
    """What every type's config may carry: the share of rows that must pass (the reference keeps it here)."""

    threshold: Threshold | None = None


class ColumnConfig(RuleConfig):
    column: Column


class NotNull(ColumnConfig):
    pass


class Unique(RuleConfig):
    column: Column | None = None
    columns: list[Column] | None = pydantic.Field(default=None, min_length=1, max_length=MAX_COLUMNS)

    @pydantic.model_validator(mode="after")
    def _one_form(self) -> Unique:
        if (self.column is None) == (self.columns is None):
            raise ValueError("give either column or columns")
        return self


class RegexMatch(ColumnConfig):
    pattern: str = pydantic.Field(min_length=1, max_length=MAX_PATTERN)


class AcceptedValues(ColumnConfig):
    values: list[Scalar] = pydantic.Field(min_length=1, max_length=MAX_VALUES)


class Range(ColumnConfig):
    min: int | float | str | None = None
    max: int | float | str | None = None
    min_inclusive: bool = True
    max_inclusive: bool = True

    @pydantic.model_validator(mode="after")
    def _bounds(self) -> Range:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None:
            if isinstance(self.min, str) != isinstance(self.max, str):
                raise ValueError("min and max must both be numbers or both be text (dates)")
            if self.min > self.max:  # type: ignore[operator]
                raise ValueError("min must not be above max")
        return self


class Bounds(RuleConfig):
    min: pydantic.conint(ge=0) | None = None  # type: ignore[valid-type]
    max: pydantic.conint(ge=0) | None = None  # type: ignore[valid-type]

    @pydantic.model_validator(mode="after")
    def _bounds(self) -> Bounds:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min must not be above max")
        return self


class Length(Bounds):
    column: Column


class RowCount(Bounds):
    pass


class Freshness(ColumnConfig):
    max_age: str | pydantic.conint(gt=0, le=10 * 366 * 86_400)  # type: ignore[valid-type]

    @pydantic.field_validator("max_age")
    @classmethod
    def _duration(cls, value: str | int) -> str | int:
        if isinstance(value, str) and not DURATION.match(value):
            raise ValueError("expected a duration such as 30m, 24h or 2d, or a number of seconds")
        return value


class SchemaMatch(RuleConfig):
    pass


class Referential(ColumnConfig):
    dataset_id: str = pydantic.Field(min_length=1, max_length=40)
    ref_column: Column


class CustomSql(RuleConfig):
    condition: str = pydantic.Field(min_length=1, max_length=MAX_CONDITION)


CONFIGS: dict[str, type[RuleConfig]] = {
    "not_null": NotNull, "unique": Unique, "regex_match": RegexMatch, "accepted_values": AcceptedValues,
    "range": Range, "length": Length, "row_count": RowCount, "freshness": Freshness,
    "schema_match": SchemaMatch, "referential": Referential, "custom_sql": CustomSql,
}
assert set(CONFIGS) == set(RULE_TYPES), "every rule type of the engine has a config model"


def parse_config(rule_type: str, config: Any, prefix: str = "config") -> RuleConfig:
    """The config validated for its type; raises ValidationError naming `<prefix>.<field>`."""
    model = parse(CONFIGS[rule_type], config, f"{rule_type} configuration", prefix)
    reason = None
    if isinstance(model, RegexMatch):
        reason, field = check_pattern(model.pattern), f"{prefix}.pattern"
    elif isinstance(model, CustomSql):
        reason, field = check_select(model.condition), f"{prefix}.condition"
    if reason is not None:
        raise ValidationError(f"Invalid {rule_type} configuration", field=field, reason=reason)
    return model


def columns_of(model: RuleConfig) -> list[tuple[str, str]]:
    """The (field, column) pairs the config names in its own dataset."""
    named: list[tuple[str, str]] = []
    column = getattr(model, "column", None)
    if column is not None:
        named.append(("config.column", column))
    for index, name in enumerate(getattr(model, "columns", None) or ()):
        named.append((f"config.columns[{index}]", name))
    return named


def threshold_of(config: dict[str, Any]) -> float:
    """The share of rows that must pass: the config's `threshold`, 1 when absent."""
    value = config.get("threshold")
    return 1.0 if value is None else float(value)
