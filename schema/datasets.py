"""GraphQL types, queries and mutations of the dataset domain."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from resolvers import datasets as domain
from resolvers.quality import rules as quality_domain
from resolvers.schema_compat import FIELD_TYPES, MODES
from resolvers.schema_compat import CompatibilityReport as Report
from resolvers.sources import SOURCE_TYPES
from resolvers.views.datasets import DatasetView, FieldView, SchemaVersionView
from schema.context import Info, Loaders
from schema.enums import domain_enum
from schema.pagination import Connection, connection, page_request
from schema.permissions import needs
from schema.quality import QualityResult, QualityRule

SourceType = domain_enum("SourceType", SOURCE_TYPES, "Where a dataset's data lives.")
DatasetStatus = domain_enum("DatasetStatus", domain.STATUSES, "Lifecycle state of a dataset.")
FieldType = domain_enum("FieldType", FIELD_TYPES, "Type of a schema field.")
CompatibilityMode = domain_enum("CompatibilityMode", MODES, "Which readers a schema change must keep working.")


@strawberry.type(description="Where a dataset reads from; the connection password is masked.")
class DatasetSource:
    type: str = strawberry.field(description="`database` or `file`.")
    connection: str | None = strawberry.field(description="Database URL with the password masked.")
    table: str | None = strawberry.field(description="Table of a database source.")
    path: str | None = strawberry.field(description="Path of a file source.")
    format: str | None = strawberry.field(description="csv, parquet or jsonl for file sources.")


@strawberry.type(description="One column of a dataset schema.")
class SchemaField:
    name: str = strawberry.field(description="Column name.")
    type: str = strawberry.field(description="Field type, e.g. integer or timestamp.")
    nullable: bool = strawberry.field(description="Whether the column may hold nulls.")
    description: str | None = strawberry.field(description="What the column means.")
    precision: int | None = strawberry.field(description="Digits of a decimal.")
    scale: int | None = strawberry.field(description="Digits after the point of a decimal.")
    items: str | None = strawberry.field(description="Element type of an array.")
    values: str | None = strawberry.field(description="Value type of a map.")
    sensitive: bool = strawberry.field(
        description="Marks personal or secret data: quality samples mask it (false when not marked).")


def _fields(views: tuple[FieldView, ...]) -> list[SchemaField]:
    return [SchemaField(name=f.name, type=f.type, nullable=f.nullable, description=f.description,
                        precision=f.precision, scale=f.scale, items=f.items, values=f.values,
                        sensitive=bool(f.sensitive)) for f in views]


@strawberry.type(description="One difference between two schema versions.")
class SchemaChange:
    change: str = strawberry.field(description="added, removed, type_changed or nullability_changed.")
    field: str = strawberry.field(description="The field concerned.")
    old: JSON | None = strawberry.field(description="Before the change.")
    new: JSON | None = strawberry.field(description="After the change.")
    breaks_backward: bool = strawberry.field(description="New readers cannot read old data.")
    breaks_forward: bool = strawberry.field(description="Old readers cannot read new data.")
    reason: str = strawberry.field(description="Why the change is or is not compatible.")


@strawberry.type(description="The outcome of checking a schema change.")
class CompatibilityReport:
    compatibility: str = strawberry.field(description="The mode applied.")
    compatible: bool = strawberry.field(description="Whether the change is allowed under the mode.")
    current_version: int = strawberry.field(description="The version compared against.")
    changes: list[SchemaChange] = strawberry.field(description="Every change from the current version.")
    violations: JSON = strawberry.field(description="Changes that break the mode, with the version they break.")

    @classmethod
    def from_report(cls, report: Report) -> CompatibilityReport:
        return cls(compatibility=report.compatibility, compatible=report.compatible,
                   current_version=report.current_version,
                   changes=[SchemaChange(**change.__dict__) for change in report.changes],
                   violations=report.violations)


@strawberry.type(description="A stored version of a dataset schema.")
class SchemaVersion:
    version: int = strawberry.field(description="1 for the first schema, then one more per change.")
    fields: list[SchemaField] = strawberry.field(description="The columns.")
    compatibility: str = strawberry.field(description="Mode the version was checked under.")
    forced: bool = strawberry.field(description="Stored despite being incompatible.")
    created_by: str = strawberry.field(description="Who stored it.")
    created_at: datetime = strawberry.field(description="When it was stored.")

    @classmethod
    def from_view(cls, view: SchemaVersionView) -> SchemaVersion:
        return cls(version=view.version, fields=_fields(view.fields), compatibility=view.compatibility,
                   forced=view.forced, created_by=view.created_by, created_at=view.created_at)


@strawberry.type(description="A dataset: where data lives, its schema and its metadata.")
class Dataset:
    id: strawberry.ID = strawberry.field(description="Opaque id, `ds_...`.")
    name: str = strawberry.field(description="Unique in the workspace.")
    description: str = strawberry.field(description="Free text.")
    status: str = strawberry.field(description="active, inactive or deprecated.")
    source: DatasetSource = strawberry.field(description="Where the data is read from.")
    fields: list[SchemaField] = strawberry.field(description="Columns of the current schema.")
    schema_version: int = strawberry.field(description="Number of the current schema version.")
    compatibility: str = strawberry.field(description="Compatibility mode applied to schema changes.")
    tags: list[str] = strawberry.field(description="Labels for search.")
    quality_score: float | None = strawberry.field(description="Last quality score, 0 to 1.")
    last_profiled: datetime | None = strawberry.field(description="When the data was last profiled.")
    revision: int = strawberry.field(description="Bumped on every change; pass as expectedRevision.")
    created_at: datetime = strawberry.field(description="Creation time.")
    updated_at: datetime = strawberry.field(description="Last change.")
    # Set under a subscription event (through a job's pipeline): that event's own loaders, never the socket's.
    loaders: strawberry.Private[Loaders | None] = None

    @classmethod
    def from_view(cls, view: DatasetView, loaders: Loaders | None = None) -> Dataset:
        source = view.source
        return cls(
            id=strawberry.ID(view.id), name=view.name, description=view.description, status=view.status,
            source=DatasetSource(type=source.type, connection=source.connection, table=source.table,
                                 path=source.path, format=source.format),
            fields=_fields(view.fields), schema_version=view.schema_version,
            compatibility=view.compatibility, tags=list(view.tags), quality_score=view.quality_score,
            last_profiled=view.last_profiled, revision=view.revision, created_at=view.created_at,
            updated_at=view.updated_at, loaders=loaders)

    def _loaders(self, info: Info) -> Loaders:
        return self.loaders or info.context.loaders

    @strawberry.field(extensions=needs(quality_domain.READ), description="The dataset's quality rules, oldest first.")
    async def quality_rules(self, info: Info) -> list[QualityRule]:
        return [QualityRule.from_view(rule) for rule in await self._loaders(info).quality_rules.load(str(self.id))]

    @strawberry.field(extensions=needs(quality_domain.READ),
                      description="The newest finished result of each of the dataset's rules.")
    async def latest_quality_results(self, info: Info) -> list[QualityResult]:
        found = await self._loaders(info).latest_quality_results.load(str(self.id))
        return [QualityResult.from_view(result) for result in found]

    @strawberry.field(extensions=needs(domain.READ), description="Stored schema versions, newest first.")
    async def schema_history(self, info: Info, first: int = 20, after: str | None = None
                             ) -> Connection[SchemaVersion]:
        page = await self._loaders(info).schema_history.load((str(self.id), page_request(first, after)))
        return connection(page, SchemaVersion.from_view)
