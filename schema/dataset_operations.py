"""Dataset queries and mutations: parse, call one resolver, shape the result."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from resolvers import datasets as domain
from resolvers.errors import NotFound
from resolvers.schema_compat import SchemaDefinition
from resolvers.views.datasets import DatasetView
from schema.context import Info
from schema.datasets import (
    CompatibilityMode,
    CompatibilityReport,
    Dataset,
    DatasetStatus,
    FieldType,
    SchemaVersion,
    SourceType,
)
from schema.error_types import (
    ConflictError,
    NotFoundError,
    PreconditionFailedError,
    SchemaIncompatibleError,
    ValidationError,
)
from schema.inputs import to_model
from schema.pagination import Connection, connection, page_request
from schema.permissions import needs


@strawberry.input(description="Where a dataset reads from.")
class DatasetSourceInput:
    type: SourceType = strawberry.field(description="database or file.")
    connection: str | None = strawberry.field(default=strawberry.UNSET, description="Database URL.")
    table: str | None = strawberry.field(default=strawberry.UNSET, description="Table of a database source.")
    path: str | None = strawberry.field(default=strawberry.UNSET, description="Path of a file source.")
    format: str | None = strawberry.field(default=strawberry.UNSET, description="csv, parquet or jsonl.")
    options: JSON | None = strawberry.field(default=strawberry.UNSET, description="csv options.")


@strawberry.input(description="One column of a schema.")
class SchemaFieldInput:
    name: str = strawberry.field(description="Column name.")
    type: FieldType = strawberry.field(description="Field type.")
    nullable: bool = strawberry.field(default=True, description="Whether nulls are allowed.")
    description: str | None = strawberry.field(default=strawberry.UNSET, description="Meaning.")
    precision: int | None = strawberry.field(default=strawberry.UNSET, description="Decimal digits.")
    scale: int | None = strawberry.field(default=strawberry.UNSET, description="Decimal digits after the point.")
    items: FieldType | None = strawberry.field(default=strawberry.UNSET, description="Array element type.")
    values: FieldType | None = strawberry.field(default=strawberry.UNSET, description="Map value type.")
    sensitive: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Marks personal or secret data: quality samples mask it.")


@strawberry.input(description="A schema: its columns in order.")
class SchemaInput:
    fields: list[SchemaFieldInput] = strawberry.field(description="The columns.")


@strawberry.input(description="A new dataset.")
class CreateDatasetInput:
    name: str = strawberry.field(description="Unique in the workspace.")
    source: DatasetSourceInput = strawberry.field(description="Where the data lives.")
    description: str | None = strawberry.field(default=strawberry.UNSET, description="Free text.")
    schema: SchemaInput | None = strawberry.field(default=strawberry.UNSET, description="Initial schema.")
    tags: list[str] | None = strawberry.field(default=strawberry.UNSET, description="Labels.")
    status: DatasetStatus | None = strawberry.field(default=strawberry.UNSET, description="Initial status.")
    compatibility: CompatibilityMode | None = strawberry.field(default=strawberry.UNSET,
                                                               description="Mode for schema changes.")


@strawberry.input(description="Changes to a dataset: only the fields given change.")
class UpdateDatasetInput:
    name: str | None = strawberry.field(default=strawberry.UNSET, description="New name.")
    source: DatasetSourceInput | None = strawberry.field(default=strawberry.UNSET, description="New source.")
    description: str | None = strawberry.field(default=strawberry.UNSET, description="New description.")
    schema: SchemaInput | None = strawberry.field(default=strawberry.UNSET, description="New schema (versioned).")
    tags: list[str] | None = strawberry.field(default=strawberry.UNSET, description="New labels.")
    status: DatasetStatus | None = strawberry.field(default=strawberry.UNSET, description="New status.")
    compatibility: CompatibilityMode | None = strawberry.field(default=strawberry.UNSET,
                                                               description="New mode.")


@strawberry.input(description="Which datasets to list; every given criterion must hold.")
class DatasetFilter:
    name: str | None = strawberry.field(default=None, description="Part of the name, any case.")
    tags: list[str] | None = strawberry.field(default=None, description="Datasets carrying all these tags.")
    source_type: SourceType | None = strawberry.field(default=None, description="database or file.")
    status: DatasetStatus | None = strawberry.field(default=None, description="Lifecycle state.")


@strawberry.type(description="The dataset was created. `datasetId`, `status` and `revision` are the "
                             "acknowledgement any writer may read; `dataset` needs read:datasets.")
class CreateDatasetSuccess:
    dataset: Dataset = strawberry.field(description="The dataset after the write (needs read:datasets).",
                                        extensions=needs(domain.READ))
    dataset_id: strawberry.ID = strawberry.field(description="Id of the dataset.")
    status: DatasetStatus = strawberry.field(description="Its lifecycle state.")
    revision: int = strawberry.field(description="Its revision; pass as expectedRevision.")

    @classmethod
    def from_view(cls, view: DatasetView) -> CreateDatasetSuccess:
        return cls(dataset=Dataset.from_view(view), dataset_id=strawberry.ID(view.id),
                   status=DatasetStatus(view.status), revision=view.revision)


@strawberry.type(description="The dataset was updated. `datasetId`, `status` and `revision` are the "
                             "acknowledgement any writer may read; `dataset` needs read:datasets.")
class UpdateDatasetSuccess(CreateDatasetSuccess):
    pass


@strawberry.type(description="The dataset was deleted.")
class DeleteDatasetSuccess:
    deleted_id: strawberry.ID = strawberry.field(description="Id of the deleted dataset.")


@strawberry.type(description="A new schema version was stored. `datasetId`, `schemaVersion` and `revision` are "
                             "the acknowledgement any writer may read; the other fields need read:datasets.")
class UpdateDatasetSchemaSuccess:
    dataset: Dataset = strawberry.field(description="The dataset with its new schema (needs read:datasets).",
                                        extensions=needs(domain.READ))
    version: SchemaVersion = strawberry.field(description="The stored version (needs read:datasets).",
                                              extensions=needs(domain.READ))
    report: CompatibilityReport = strawberry.field(
        description="The compatibility check that was applied (needs read:datasets).", extensions=needs(domain.READ))
    dataset_id: strawberry.ID = strawberry.field(description="Id of the dataset.")
    schema_version: int = strawberry.field(description="Number of the stored schema version.")
    revision: int = strawberry.field(description="The dataset's revision after the change.")


@strawberry.type(description="The outcome of a dry-run schema check.")
class ValidateDatasetSchemaSuccess:
    report: CompatibilityReport = strawberry.field(description="Changes and whether they are compatible.")


CreateDatasetResult = Annotated[CreateDatasetSuccess | ValidationError | ConflictError,
                                strawberry.union("CreateDatasetResult")]
UpdateDatasetResult = Annotated[
    UpdateDatasetSuccess | NotFoundError | ValidationError | ConflictError | PreconditionFailedError
    | SchemaIncompatibleError, strawberry.union("UpdateDatasetResult")]
DeleteDatasetResult = Annotated[DeleteDatasetSuccess | NotFoundError | PreconditionFailedError | ConflictError,
                                strawberry.union("DeleteDatasetResult")]
UpdateDatasetSchemaResult = Annotated[
    UpdateDatasetSchemaSuccess | NotFoundError | ValidationError | SchemaIncompatibleError
    | PreconditionFailedError | ConflictError, strawberry.union("UpdateDatasetSchemaResult")]
ValidateDatasetSchemaResult = Annotated[ValidateDatasetSchemaSuccess | NotFoundError | ValidationError,
                                        strawberry.union("ValidateDatasetSchemaResult")]


@strawberry.type
class DatasetQuery:
    @strawberry.field(extensions=needs(domain.READ), description="One dataset by id, or null if not in your workspace.")
    async def dataset(self, info: Info, id: strawberry.ID) -> Dataset | None:
        try:
            return Dataset.from_view(await domain.get_dataset(info.context.principal, str(id)))
        except NotFound:
            return None

    @strawberry.field(extensions=needs(domain.READ), description="Datasets of your workspace, newest first.")
    async def datasets(self, info: Info, first: int = 20, after: str | None = None,
                       filter: DatasetFilter | None = None) -> Connection[Dataset]:
        wanted = filter or DatasetFilter()
        filters = domain.DatasetFilter(
            name=wanted.name, tags=tuple(wanted.tags or ()),
            source_type=wanted.source_type.value if wanted.source_type else None,
            status=wanted.status.value if wanted.status else None)
        page = await domain.list_datasets(info.context.principal, filters, page_request(first, after))
        return connection(page, Dataset.from_view)


@strawberry.type
class DatasetMutation:
    @strawberry.mutation(extensions=needs(domain.WRITE), description="Create a dataset with its first schema version.")
    async def create_dataset(self, info: Info, input: CreateDatasetInput) -> CreateDatasetResult:
        spec = to_model(domain.DatasetCreate, input, "dataset configuration")
        view = await domain.create_dataset(info.context.principal, spec, policy=info.context.policy)
        return CreateDatasetSuccess.from_view(view)

    @strawberry.mutation(extensions=needs(domain.WRITE), description="Change a dataset; a schema given is versioned.")
    async def update_dataset(self, info: Info, id: strawberry.ID, input: UpdateDatasetInput,
                             expected_revision: int | None = None, force: bool = False) -> UpdateDatasetResult:
        spec = to_model(domain.DatasetUpdate, input, "dataset configuration")
        view = await domain.update_dataset(info.context.principal, str(id), spec, expected_revision,
                                           force, policy=info.context.policy)
        return UpdateDatasetSuccess.from_view(view)

    @strawberry.mutation(extensions=needs(domain.WRITE),
                         description="Delete a dataset with its schema history and quality rules; refused with "
                                     "ConflictError naming the pipelines and rules that use it, unless forced.")
    async def delete_dataset(self, info: Info, id: strawberry.ID, expected_revision: int | None = None,
                             force: bool = False) -> DeleteDatasetResult:
        await domain.delete_dataset(info.context.principal, str(id), expected_revision, force)
        return DeleteDatasetSuccess(deleted_id=id)

    @strawberry.mutation(extensions=needs(domain.WRITE), description="Store a compatible (or forced) schema version.")
    async def update_dataset_schema(self, info: Info, dataset_id: strawberry.ID, schema: SchemaInput,
                                    compatibility: CompatibilityMode | None = None, force: bool = False,
                                    expected_revision: int | None = None) -> UpdateDatasetSchemaResult:
        result = await domain.update_schema(
            info.context.principal, str(dataset_id), to_model(SchemaDefinition, schema, "schema", "schema"),
            compatibility.value if compatibility else None, force, expected_revision)
        return UpdateDatasetSchemaSuccess(dataset=Dataset.from_view(result.dataset),
                                          version=SchemaVersion.from_view(result.version),
                                          report=CompatibilityReport.from_report(result.report),
                                          dataset_id=strawberry.ID(result.dataset.id),
                                          schema_version=result.version.version, revision=result.dataset.revision)

    @strawberry.mutation(extensions=needs(domain.READ), description="Check a schema change without storing it.")
    async def validate_dataset_schema(self, info: Info, dataset_id: strawberry.ID, schema: SchemaInput,
                                      compatibility: CompatibilityMode | None = None
                                      ) -> ValidateDatasetSchemaResult:
        report = await domain.validate_schema(info.context.principal, str(dataset_id),
                                              to_model(SchemaDefinition, schema, "schema", "schema"),
                                              compatibility.value if compatibility else None)
        return ValidateDatasetSchemaSuccess(report=CompatibilityReport.from_report(report))
