"""Compatibility rules of schema changes, mode by mode."""

from __future__ import annotations

import pytest

from resolvers.errors import ValidationError
from resolvers.schema_compat import check_compatibility, diff_schemas


def field(name, type_, nullable=True, **extra):
    return {"name": name, "type": type_, "nullable": nullable, **extra}


BASE = [field("id", "integer", False), field("price", "float"), field("note", "string")]


@pytest.mark.parametrize(("proposed", "mode", "compatible"), [
    ([field("id", "bigint", False), field("price", "double"), field("note", "string")], "BACKWARD", True),
    ([field("id", "bigint", False), field("price", "double"), field("note", "string")], "FORWARD", False),
    ([field("id", "integer", False), field("price", "float")], "FULL", True),
    ([*BASE, field("added", "string", False)], "BACKWARD", False),
    ([*BASE, field("added", "string", False)], "FORWARD", True),
    ([field("id", "integer", True), field("price", "float"), field("note", "string")], "BACKWARD", True),
    ([field("id", "integer", True), field("price", "float"), field("note", "string")], "FULL", False),
    ([field("id", "string", False), field("price", "float"), field("note", "string")], "NONE", True),
    ([field("price", "float"), field("note", "string")], "FORWARD", False),
])
def test_modes(proposed, mode, compatible):
    assert check_compatibility([BASE], proposed, mode).compatible is compatible


def test_narrowing_breaks_backward_only():
    change = diff_schemas([field("n", "bigint")], [field("n", "integer")])[0]
    assert (change.change, change.breaks_backward, change.breaks_forward) == ("type_changed", True, False)


def test_decimal_precision_change_is_reported():
    change = diff_schemas([field("d", "decimal", precision=10, scale=2)],
                          [field("d", "decimal", precision=12, scale=2)])[0]
    assert change.old == "decimal(10,2)" and change.new == "decimal(12,2)"


def test_unknown_mode_is_refused():
    with pytest.raises(ValidationError) as caught:
        check_compatibility([BASE], BASE, "SOMETIMES")
    assert caught.value.details["field"] == "compatibility"
