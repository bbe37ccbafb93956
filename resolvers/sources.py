"""Dataset sources: the data plane's rules for a valid source, and how its secret stays out of sight."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from resolvers.errors import ValidationError
from server.engine.dataplane import DataPlaneConfigError, Policy, mask_connection
from server.engine.dataplane.source_config import file_format, validate_source

SOURCE_TYPES = ("database", "file")


def _checked(source: Any, policy: Policy) -> dict[str, Any]:
    validate_source(source, policy)
    if source["type"] == "file":
        return {**source, "format": file_format(source)}
    return dict(source)


async def check_source(source: Any, policy: Policy) -> dict[str, Any]:
    """Validate a dataset source under the data plane's policy and return it normalised; raises ValidationError.

    Runs in a thread: the policy resolves host names and looks at files, which must not stall the loop.
    """
    try:
        return await asyncio.to_thread(_checked, source, policy)
    except DataPlaneConfigError as exc:
        raise ValidationError("Invalid dataset configuration", **exc.details()) from None


def masked_source(source: dict[str, Any]) -> dict[str, Any]:
    """The source as responses show it: the connection password masked."""
    if source.get("type") == "database" and isinstance(source.get("connection"), str):
        return {**source, "connection": _masked_connection(source["connection"])}
    return dict(source)


@functools.lru_cache(maxsize=4096)
def _masked_connection(connection: str) -> str:
    # Lists mask the same few connections over and over; the unmasked string is in memory anyway.
    return mask_connection(connection)
