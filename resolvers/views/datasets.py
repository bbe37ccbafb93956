"""Read models of the dataset domain: a dataset with its source masked, and its schema versions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from resolvers.sources import masked_source
from server.models.datasets import Dataset, SchemaVersion


class FieldView(NamedTuple):
    """One column of a schema, as stored (a named tuple: lists build hundreds of these)."""

    name: str
    type: str
    nullable: bool = True
    description: str | None = None
    precision: int | None = None
    scale: int | None = None
    items: str | None = None
    values: str | None = None

    @classmethod
    def from_stored(cls, stored: dict[str, Any]) -> FieldView:
        # Stored fields are the input model's dump, so their keys are these attributes.
        return cls(**stored)

    def as_dict(self) -> dict[str, Any]:
        """The stored spelling: keys without a value are left out."""
        return {name: value for name, value in zip(self._fields, self, strict=True) if value is not None}


def field_views(stored: list[dict[str, Any]]) -> tuple[FieldView, ...]:
    return tuple(FieldView.from_stored(item) for item in stored)


@dataclass(frozen=True, slots=True)
class SourceView:
    """Where a dataset reads from, with the connection password already masked.

    `settings` is the whole masked source (type, connection or path, table, format, options...), the
    shape REST answers; the named attributes are what GraphQL selects.
    """

    type: str
    connection: str | None
    table: str | None
    path: str | None
    format: str | None
    settings: dict[str, Any]

    @classmethod
    def from_stored(cls, stored: dict[str, Any]) -> SourceView:
        masked = masked_source(stored)
        return cls(type=masked["type"], connection=masked.get("connection"), table=masked.get("table"),
                   path=masked.get("path"), format=masked.get("format"), settings=masked)


@dataclass(frozen=True, slots=True)
class DatasetView:
    """A dataset as it leaves the domain."""

    id: str
    name: str
    description: str
    status: str
    source: SourceView
    fields: tuple[FieldView, ...]
    schema_version: int
    compatibility: str
    tags: tuple[str, ...]
    quality_score: float | None
    last_profiled: datetime | None
    revision: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Dataset) -> DatasetView:
        return cls(id=row.id, name=row.name, description=row.description, status=row.status,
                   source=SourceView.from_stored(row.source), fields=field_views(row.schema_fields),
                   schema_version=row.schema_version,
                   compatibility=row.compatibility, tags=tuple(row.tags), quality_score=row.quality_score,
                   last_profiled=row.last_profiled, revision=row.revision, created_at=row.created_at,
                   updated_at=row.updated_at)


@dataclass(frozen=True, slots=True)
class SchemaVersionView:
    """A stored version of a dataset's schema and the changes it made."""

    id: str
    dataset_id: str
    version: int
    fields: tuple[FieldView, ...]
    compatibility: str
    changes: list[dict[str, Any]]
    forced: bool
    created_by: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: SchemaVersion) -> SchemaVersionView:
        return cls(id=row.id, dataset_id=row.dataset_id, version=row.version,  # type: ignore[attr-defined]
                   fields=field_views(row.schema_fields),
                   compatibility=row.compatibility, changes=row.changes, forced=row.forced,
                   created_by=row.created_by, created_at=row.created_at)
