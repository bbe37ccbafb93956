"""GraphQL enums derived from the domain's lists of values, so each vocabulary is written once."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

import strawberry


def domain_enum(name: str, values: Iterable[str], description: str) -> type[Enum]:
    """A Strawberry enum whose members are the domain's values, named in upper case."""
    members = {value.upper(): value for value in values}
    return strawberry.enum(Enum(name, members), description=description)  # type: ignore[return-value]
