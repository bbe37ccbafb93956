"""Read models of the dataset domain: a dataset with its source masked, and its schema versions."""

from __future__ import annotations

from collections.abc import Iterable
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
    sensitive: bool | None = None

    @classmethod
    def from_stored(cls, stored: dict[str, Any]) -> FieldView:
        # Stored fields are the input model's dump, so their keys are these attributes. A page holds hundreds:
        # the tuple is built directly rather than through the generated keyword constructor (half the time).
        get = stored.get
        return _new_field(cls, (stored["name"], stored["type"], get("nullable", True), get("description"),
                                get("precision"), get("scale"), get("items"), get("values"), get("sensitive")))

    def as_dict(self) -> dict[str, Any]:
        """The stored spelling: keys without a value are left out (in this order on every database)."""
        out = {"name": self[0], "type": self[1]}
        for index in range(2, 9):
            value = self[index]
            if value is not None:
                out[_FIELD_NAMES[index]] = value
        return out


_new_field = tuple.__new__
_FIELD_NAMES = FieldView._fields


def field_views(stored: Iterable[dict[str, Any]]) -> tuple[FieldView, ...]:
    return tuple(FieldView.from_stored(item) for item in stored)


# Every key order FieldView.as_dict gives (name, type and nullable, then any of the others in order): a stored
# field in one of them, with no empty value, is already in that spelling (the input model's dump, as SQLite
# keeps it).
_SPELLINGS = frozenset(
    ("name", "type", "nullable", *(name for bit, name in enumerate(_FIELD_NAMES[3:]) if mask >> bit & 1))
    for mask in range(1 << (len(_FIELD_NAMES) - 3)))


def stored_spelling(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored field in the spelling FieldView.as_dict gives, whatever order the database kept its keys in
    (PostgreSQL's JSONB sorts them): the stored dict itself when it already is (the common case on a page of
    hundreds), else a new one."""
    if tuple(stored) in _SPELLINGS and None not in stored.values():
        return stored
    return FieldView.from_stored(stored).as_dict()


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


# The columns DatasetView.from_values reads, in its order.
DATASET_COLUMNS = ("id", "name", "description", "status", "source", "schema_fields", "schema_version",
                   "compatibility", "tags", "quality_score", "last_profiled", "revision", "created_at",
                   "updated_at")


@dataclass(frozen=True, slots=True)
class DatasetView:
    """A dataset as it leaves the domain."""

    id: str
    name: str
    description: str
    status: str
    source: SourceView
    # The schema's fields in their stored spelling (FieldView.as_dict): what REST answers as it is; `fields`
    # gives them as FieldViews.
    stored_fields: tuple[dict[str, Any], ...]
    schema_version: int
    compatibility: str
    tags: tuple[str, ...]
    quality_score: float | None
    last_profiled: datetime | None
    revision: int
    created_at: datetime
    updated_at: datetime

    @property
    def fields(self) -> tuple[FieldView, ...]:
        """The schema's fields (built when asked: a REST page needs only their stored spelling)."""
        return field_views(self.stored_fields)

    @classmethod
    def from_values(cls, values: tuple[Any, ...]) -> DatasetView:
        """From a plain row of DATASET_COLUMNS (server.models.rows): what list pages read."""
        (id_, name, description, status, source, schema_fields, schema_version, compatibility, tags,
         quality_score, last_profiled, revision, created_at, updated_at) = values
        return cls(id=id_, name=name, description=description, status=status,
                   source=SourceView.from_stored(source),
                   stored_fields=tuple(stored_spelling(item) for item in schema_fields),
                   schema_version=schema_version, compatibility=compatibility, tags=tuple(tags),
                   quality_score=quality_score, last_profiled=last_profiled, revision=revision,
                   created_at=created_at, updated_at=updated_at)

    @classmethod
    def from_row(cls, row: Dataset) -> DatasetView:
        return cls(id=row.id, name=row.name, description=row.description, status=row.status,
                   source=SourceView.from_stored(row.source),
                   stored_fields=tuple(stored_spelling(item) for item in row.schema_fields),
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
