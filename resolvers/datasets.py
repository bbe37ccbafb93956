"""Datasets: create, read, update, delete, and the evolution of their schemas."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import pydantic
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Subquery
from tortoise.transactions import in_transaction

from resolvers.dataset_users import dataset_users
from resolvers.errors import Conflict, DoccError, PreconditionFailed, SchemaIncompatible, ValidationError
from resolvers.nested_pages import ChildList, PageKey, each, pages_by_parent
from resolvers.ownership import load_owned, owned_value, owned_values
from resolvers.pagination import Page, PageRequest, paginate, paginate_built
from resolvers.principal import Principal
from resolvers.schema_compat import MODES, CompatibilityReport, SchemaDefinition, check_compatibility, checked_fields
from resolvers.sources import SOURCE_TYPES, check_source
from resolvers.validation import StrictInput
from resolvers.views.datasets import DATASET_COLUMNS, DatasetView, SchemaVersionView
from server.engine.dataplane import Policy
from server.models.base import new_id, select_one
from server.models.datasets import Dataset, DatasetListVersion, DatasetTag, SchemaVersion
from server.models.rows import RowBuilder, Tally

# A page's datasets as views, each built once per stored state of its row: a list read right after a write
# loads and converts (decrypts the source, decodes the schema) only the rows whose stamp changed
# (migration datasets 0006).
LISTED_DATASET = RowBuilder(Dataset, DATASET_COLUMNS, DatasetView.from_values, stamp="row_stamp",
                            tally=Tally("dataset_list_versions", "dataset_count", "workspace_id"))

READ, WRITE = "read:datasets", "write:datasets"
STATUSES = ("active", "inactive", "deprecated")
Status = Literal[STATUSES]  # type: ignore[valid-type]
MAX_TAGS, MAX_TAG_LENGTH, MAX_NAME_LENGTH = 50, 64, 200
Mode = Literal[MODES]  # type: ignore[valid-type]
Tag = pydantic.constr(strip_whitespace=True, min_length=1, max_length=64)  # type: ignore[valid-type]
Name = pydantic.constr(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\- ]*$")  # type: ignore[valid-type]


class DatasetCreate(StrictInput):
    name: Name
    description: str = pydantic.Field(default="", max_length=10_000)
    source: dict[str, Any]
    schema_: SchemaDefinition | None = pydantic.Field(default=None, alias="schema")
    tags: list[Tag] = pydantic.Field(default_factory=list, max_length=MAX_TAGS)
    status: Status = "active"
    compatibility: Mode = "BACKWARD"


class DatasetUpdate(StrictInput):
    name: Name | None = None
    description: str | None = pydantic.Field(default=None, max_length=10_000)
    source: dict[str, Any] | None = None
    schema_: SchemaDefinition | None = pydantic.Field(default=None, alias="schema")
    tags: list[Tag] | None = pydantic.Field(default=None, max_length=MAX_TAGS)
    status: Status | None = None
    compatibility: Mode | None = None


@dataclass(frozen=True)
class DatasetFilter:
    """List filter: every given criterion must hold; tags must all be present."""

    name: str | None = None
    tags: tuple[str, ...] = ()
    source_type: str | None = None
    status: str | None = None

    def __post_init__(self) -> None:
        # Each tag is one sub-query: bound their number (a dataset holds at most 50) and length
        # before the query builder, which recurses once per tag, ever sees them.
        if len(self.tags) > MAX_TAGS:
            raise ValidationError("Invalid filter", field="tags", reason=f"At most {MAX_TAGS} tags")
        if any(len(tag) > MAX_TAG_LENGTH for tag in self.tags):
            raise ValidationError("Invalid filter", field="tags", reason=f"At most {MAX_TAG_LENGTH} characters a tag")
        if self.status is not None and self.status not in STATUSES:
            raise ValidationError("Invalid filter", field="status", reason=f"Expected one of {', '.join(STATUSES)}")
        if self.name is not None and len(self.name) > MAX_NAME_LENGTH:
            raise ValidationError("Invalid filter", field="name", reason=f"At most {MAX_NAME_LENGTH} characters")


@dataclass(frozen=True)
class SchemaUpdateResult:
    dataset: DatasetView
    version: SchemaVersionView
    report: CompatibilityReport


def _unique_tags(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(tags))


async def _store_tags(row: Dataset, tags: list[str]) -> None:
    if tags:
        await DatasetTag.bulk_create([DatasetTag(dataset_id=row.id, workspace_id=row.workspace_id, tag=tag)
                                      for tag in tags])


async def _load(principal: Principal, dataset_id: str) -> Dataset:
    return await load_owned(Dataset, "dataset", principal, dataset_id)


async def _ensure_name_free(principal: Principal, name: str, exclude_id: str | None = None) -> None:
    query = Dataset.filter(workspace_id=principal.workspace_id, name=name)
    if exclude_id:
        query = query.exclude(id=exclude_id)
    if await query.exists():
        raise Conflict(f"A dataset named '{name}' already exists", {"field": "name", "name": name})


def _check_revision(row: Dataset, expected: int | None) -> None:
    if expected is not None and expected != row.revision:
        raise PreconditionFailed("The dataset was changed since you read it",
                                 {"expected_revision": expected, "current_revision": row.revision})


async def create_dataset(principal: Principal, spec: DatasetCreate, *, policy: Policy) -> DatasetView:
    """Create a dataset and its first schema version; raises ValidationError, Conflict."""
    principal.require(WRITE)
    source = await check_source(spec.source, policy)
    fields = checked_fields(spec.schema_) if spec.schema_ is not None else []
    tags = _unique_tags(spec.tags)
    # The unique (workspace, name) index refuses a taken name inside the transaction, which then stores
    # nothing: no statement of its own to look first (a create that succeeds is the common case).
    try:
        async with in_transaction():
            row = await Dataset.create(
                id=new_id("ds"), workspace_id=principal.workspace_id, name=spec.name,
                description=spec.description, status=spec.status, source_type=source["type"],
                source=source, schema_fields=fields, compatibility=spec.compatibility, tags=tags)
            await SchemaVersion.create(id=new_id("sv"), workspace_id=row.workspace_id, dataset=row, version=1,
                                       schema_fields=fields,
                                       compatibility=spec.compatibility, created_by=principal.subject)
            await _store_tags(row, tags)
    except IntegrityError:
        raise Conflict(f"A dataset named '{spec.name}' already exists",
                       {"field": "name", "name": spec.name}) from None
    return DatasetView.from_row(row)


async def get_dataset(principal: Principal, dataset_id: str) -> DatasetView:
    """One dataset of the caller's workspace; raises NotFound."""
    principal.require(READ)
    return DatasetView.from_values(await owned_value(Dataset, "dataset", principal, dataset_id, DATASET_COLUMNS))


async def get_datasets(principal: Principal, dataset_ids: list[str]) -> list[DatasetView | None]:
    """Datasets by id in the order asked, None where missing (for DataLoaders)."""
    principal.require(READ)
    rows = await owned_values(Dataset, principal, dataset_ids, DATASET_COLUMNS)
    return [DatasetView.from_values(row) if row is not None else None for row in rows]


async def list_datasets(principal: Principal, filters: DatasetFilter, page: PageRequest) -> Page[DatasetView]:
    """A page of the workspace's datasets, newest first; raises ValidationError."""
    principal.require(READ)
    if filters.source_type is not None and filters.source_type not in SOURCE_TYPES:
        raise ValidationError("Invalid filter", field="source_type",
                              reason=f"Expected one of {', '.join(SOURCE_TYPES)}")
    if not (filters.name or filters.source_type or filters.status or filters.tags):
        return await paginate_built(LISTED_DATASET, {"workspace_id": principal.workspace_id}, page)
    query = Dataset.filter(workspace_id=principal.workspace_id)
    if filters.name:
        query = query.filter(name__icontains=filters.name)
    if filters.source_type:
        query = query.filter(source_type=filters.source_type)
    if filters.status:
        query = query.filter(status=filters.status)
    for tag in filters.tags:
        query = query.filter(id__in=Subquery(DatasetTag.filter(tag=tag).values("dataset_id")))
    return await paginate(query, page, read=LISTED_DATASET.read)


async def list_version(principal: Principal, known: int | None = None) -> int:
    """A number that changes whenever any dataset of the workspace changes (for caches and ETags).

    `known` is the number when the caller read it already in this request (with the credential, in one
    statement): it is used as it is. Raises Forbidden.
    """
    principal.require(READ)
    if known is not None:
        return known
    row = await select_one(DatasetListVersion, ("version",), "workspace_id", principal.workspace_id)
    return int(row["version"]) if row else 0


async def update_dataset(principal: Principal, dataset_id: str, spec: DatasetUpdate,
                         expected_revision: int | None = None, force: bool = False, *,
                         policy: Policy) -> DatasetView:
    """Change a dataset's settings (a schema given here is versioned as by update_schema).

    Raises NotFound, ValidationError, Conflict, PreconditionFailed, SchemaIncompatible.
    """
    principal.require(WRITE)
    changes = spec.model_dump(exclude_unset=True, by_alias=False)
    if not changes:
        raise ValidationError("Nothing to update", field="body", reason="Give at least one field")
    row = await _load(principal, dataset_id)
    _check_revision(row, expected_revision)
    values: dict[str, Any] = {}
    if spec.name is not None and spec.name != row.name:
        await _ensure_name_free(principal, spec.name, exclude_id=row.id)
        values["name"] = spec.name
    if spec.description is not None:
        values["description"] = spec.description
    if spec.status is not None:
        values["status"] = spec.status
    if spec.compatibility is not None:
        values["compatibility"] = spec.compatibility
    if spec.source is not None:
        source = await check_source(spec.source, policy)
        values.update(source=source, source_type=source["type"])
    tags = _unique_tags(spec.tags) if spec.tags is not None else None
    if tags is not None:
        values["tags"] = tags
    proposed = checked_fields(spec.schema_) if spec.schema_ is not None else None
    report = None
    if proposed is not None and proposed != row.schema_fields:
        report = await _checked_report(row, proposed, values.get("compatibility"), force)
    async with in_transaction():
        if report is not None and proposed is not None:
            await _store_version(row, proposed, report, force, principal)
            values.update(schema_fields=proposed, schema_version=row.schema_version + 1)
        await _write(row, values)
        if tags is not None:
            await DatasetTag.filter(dataset_id=row.id).delete()
            await _store_tags(row, tags)
    return DatasetView.from_row(await _load(principal, dataset_id))


async def _write(row: Dataset, values: dict[str, Any]) -> None:
    """Conditional write: only if nobody bumped the revision since `row` was read."""
    values = {**values, "revision": row.revision + 1, "updated_at": datetime.now(UTC)}
    try:
        updated = await Dataset.filter(id=row.id, revision=row.revision).update(**values)
    except IntegrityError:
        raise Conflict(f"A dataset named '{values.get('name')}' already exists",
                       {"field": "name", "name": values.get("name")}) from None
    # SQLite counts the rows its triggers touch too (the list version), so only "nothing updated" is a lost race.
    if updated == 0:
        raise Conflict("The dataset was changed by another request; read it again and retry",
                       {"dataset_id": row.id})


async def delete_dataset(principal: Principal, dataset_id: str, expected_revision: int | None = None,
                         force: bool = False) -> None:
    """Delete a dataset with its schema history and its quality rules; raises NotFound, PreconditionFailed,
    Conflict (a pipeline or quality rule uses it, unless `force`; details name them)."""
    principal.require(WRITE)
    row = await _load(principal, dataset_id)
    _check_revision(row, expected_revision)
    if not force:
        users = await dataset_users(principal.workspace_id, row.id)
        if users:
            raise Conflict("The dataset is in use by pipelines or quality rules; change them, or delete with force",
                           users.as_details(row.id))
    # SQLite counts cascaded rows too, so only "nothing deleted" means a lost race.
    deleted = await Dataset.filter(id=row.id, revision=row.revision).delete()
    if deleted == 0:
        raise Conflict("The dataset was changed by another request; read it again and retry",
                       {"dataset_id": row.id})


async def _history(row: Dataset) -> list[list[dict[str, Any]]]:
    versions = await SchemaVersion.filter(dataset_id=row.id).order_by("version").values_list(
        "schema_fields", flat=True)
    return list(versions)


async def _checked_report(row: Dataset, proposed: list[dict[str, Any]], mode: str | None,
                          force: bool) -> CompatibilityReport:
    report = check_compatibility(await _history(row), proposed, mode or row.compatibility)
    if not report.compatible and not force:
        raise SchemaIncompatible(
            f"The schema change is not {report.compatibility} compatible",
            report.as_dict())
    return report


async def _store_version(row: Dataset, fields: list[dict[str, Any]], report: CompatibilityReport,
                         force: bool, principal: Principal) -> SchemaVersion:
    try:
        return await SchemaVersion.create(
            id=new_id("sv"), workspace_id=row.workspace_id, dataset_id=row.id, version=row.schema_version + 1,
            schema_fields=fields,
            compatibility=report.compatibility,
            changes=[change.__dict__ for change in report.changes],
            forced=force and not report.compatible, created_by=principal.subject)
    except IntegrityError:
        raise Conflict("Another schema version was stored at the same time; retry",
                       {"dataset_id": row.id}) from None


async def get_schema(principal: Principal, dataset_id: str) -> SchemaVersionView:
    """The current schema version of a dataset; raises NotFound."""
    principal.require(READ)
    row = await _load(principal, dataset_id)
    return SchemaVersionView.from_row(await SchemaVersion.get(dataset_id=row.id, version=row.schema_version))


def _checked_mode(compatibility: str | None) -> None:
    if compatibility is not None and compatibility not in MODES:
        raise ValidationError("Invalid compatibility mode", field="compatibility",
                              reason=f"Expected one of {', '.join(MODES)}")


async def validate_schema(principal: Principal, dataset_id: str, schema: SchemaDefinition,
                          compatibility: str | None = None) -> CompatibilityReport:
    """Dry run of a schema change: the report, nothing stored; raises NotFound, ValidationError."""
    principal.require(READ)
    row = await _load(principal, dataset_id)
    proposed = checked_fields(schema)
    _checked_mode(compatibility)
    return check_compatibility(await _history(row), proposed, compatibility or row.compatibility)


async def update_schema(principal: Principal, dataset_id: str, schema: SchemaDefinition,
                        compatibility: str | None = None, force: bool = False,
                        expected_revision: int | None = None) -> SchemaUpdateResult:
    """Store a new schema version if compatible (or forced).

    Raises NotFound, ValidationError, SchemaIncompatible, PreconditionFailed, Conflict.
    """
    principal.require(WRITE)
    row = await _load(principal, dataset_id)
    _check_revision(row, expected_revision)
    proposed = checked_fields(schema)
    _checked_mode(compatibility)
    report = await _checked_report(row, proposed, compatibility, force)
    async with in_transaction():
        version = await _store_version(row, proposed, report, force, principal)
        await _write(row, {"schema_fields": proposed, "schema_version": row.schema_version + 1})
    return SchemaUpdateResult(DatasetView.from_row(await _load(principal, dataset_id)),
                              SchemaVersionView.from_row(version), report)


async def schema_history(principal: Principal, dataset_id: str, page: PageRequest) -> Page[SchemaVersionView]:
    """Stored schema versions of a dataset, newest first; raises NotFound."""
    principal.require(READ)
    row = await _load(principal, dataset_id)
    return (await paginate(SchemaVersion.filter(dataset_id=row.id), page)).map(SchemaVersionView.from_row)


SCHEMA_HISTORY = ChildList(SchemaVersion, parent="dataset_id", owner=Dataset, kind="dataset")


async def schema_histories(principal: Principal, keys: list[PageKey]) -> list[Page[SchemaVersionView] | DoccError]:
    """`schema_history` of each (dataset id, page request) in key order, one statement for all (for
    DataLoaders); raises Forbidden; a missing dataset's entry is NotFound, a bad cursor's ValidationError."""
    principal.require(READ)
    return await pages_by_parent(SCHEMA_HISTORY, principal.workspace_id, keys, each(SchemaVersionView.from_row))
