"""Dataset sources: the data plane's rules for a valid source, and how its secret stays out of sight."""

from __future__ import annotations

from typing import Any

from resolvers.errors import ValidationError
from server.engine.dataplane import DataPlaneConfigError, mask_connection, validate_source
from server.engine.dataplane.sources import file_format

SOURCE_TYPES = ("database", "file")


def check_source(source: Any) -> dict[str, Any]:
    """Validate a dataset source and return it normalised (file format filled in); raises ValidationError."""
    try:
        validate_source(source)
        if source["type"] == "file":
            return {**source, "format": file_format(source)}
    except DataPlaneConfigError as exc:
        raise ValidationError("Invalid dataset configuration", **exc.details()) from None
    return dict(source)


def masked_source(source: dict[str, Any]) -> dict[str, Any]:
    """The source as responses show it: the connection password masked."""
    if source.get("type") == "database" and isinstance(source.get("connection"), str):
        return {**source, "connection": mask_connection(source["connection"])}
    return dict(source)
