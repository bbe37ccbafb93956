"""/datasets: CRUD, schema, schema history and compatibility checks."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from docc import routes
from docc._core import Answer, Flow, Items, query
from docc.models.datasets import (
    CompatibilityReport,
    Dataset,
    DatasetAck,
    DatasetCreate,
    DatasetUpdate,
    SchemaVersion,
    SchemaVersionAck,
)
from docc.resources.base import R, Resource, body_of, listing, nothing, one, operation, rows


def _dataset(answer: Answer) -> Dataset | DatasetAck:
    # A key without read:datasets gets an acknowledgement instead of the dataset it wrote.
    if "name" not in answer.body:
        return DatasetAck.model_validate(answer.body)
    dataset = Dataset.model_validate(answer.body)
    dataset._etag = answer.headers.get("ETag")
    return dataset


def _version(answer: Answer) -> SchemaVersion | SchemaVersionAck:
    if "fields" not in answer.body:
        return SchemaVersionAck.model_validate(answer.body)
    return SchemaVersion.model_validate(answer.body)


def _schema_body(schema: Any, compatibility: str | None) -> dict[str, Any]:
    """`{"fields": [...]}` from a list of fields or a schema object (`{"fields": ...}`)."""
    body: dict[str, Any] = {"fields": list(schema)} if not isinstance(schema, dict) else dict(schema)
    if compatibility is not None:
        body["compatibility"] = compatibility
    return body


def _if_match(etag: str | None) -> dict[str, str]:
    return {"If-Match": etag} if etag else {}


class Datasets(Resource[R]):
    """`client.datasets`: needs read:datasets to read, write:datasets to change."""

    @listing
    def list(self, *, name: str | None = None, tags: Iterable[str] | None = None, source_type: str | None = None,
             status: str | None = None) -> Items[Dataset]:
        """Every dataset matching the filters (`tags`: all must match), fetched page by page."""
        params = query(name=name, tags=list(tags) if tags is not None else None, source_type=source_type,
                       status=status)
        return self._pages(routes.LIST_DATASETS.call(rows(Dataset.model_validate), params=params))

    @operation
    def get(self, dataset_id: str) -> Flow[Dataset | DatasetAck]:
        return self._request(routes.GET_DATASET.call(_dataset, id=dataset_id))

    @operation
    def create(self, spec: DatasetCreate | dict[str, Any] | None = None, **fields: Any) -> Flow[Dataset | DatasetAck]:
        """Create from a `DatasetCreate`, a dict, or keyword arguments (`name=`, `source=`, `schema=`, ...)."""
        return self._request(routes.CREATE_DATASET.call(_dataset, json=body_of(DatasetCreate, spec, fields)))

    @operation
    def update(self, dataset_id: str, spec: DatasetUpdate | dict[str, Any] | None = None, *,
               if_match: str | None = None, force: bool = False, **fields: Any) -> Flow[Dataset | DatasetAck]:
        """Change the fields given; `if_match=dataset.etag` refuses (PreconditionFailed) a stale write."""
        return self._request(routes.UPDATE_DATASET.call(
            _dataset, json=body_of(DatasetUpdate, spec, fields), headers=_if_match(if_match),
            params=query(force=True) if force else None, id=dataset_id))

    @operation
    def delete(self, dataset_id: str, *, if_match: str | None = None, force: bool = False) -> Flow[None]:
        """Delete a dataset; one that a pipeline or quality rule uses is refused (Conflict) unless `force`."""
        return self._request(routes.DELETE_DATASET.call(nothing, headers=_if_match(if_match),
                                                        params=query(force=True) if force else None, id=dataset_id))

    @operation
    def schema(self, dataset_id: str) -> Flow[SchemaVersion]:
        """The current schema version."""
        return self._request(routes.GET_SCHEMA.call(one(SchemaVersion.model_validate), id=dataset_id))

    @operation
    def update_schema(self, dataset_id: str, schema: Any, *, compatibility: str | None = None, force: bool = False,
                      if_match: str | None = None) -> Flow[SchemaVersion | SchemaVersionAck]:
        """Store a new schema version (a list of fields or `{"fields": [...]}`); SchemaIncompatible unless
        compatible or `force`."""
        return self._request(routes.UPDATE_SCHEMA.call(
            _version, json=_schema_body(schema, compatibility), headers=_if_match(if_match),
            params=query(force=True) if force else None, id=dataset_id))

    @listing
    def history(self, dataset_id: str) -> Items[SchemaVersion]:
        """Schema versions, newest first."""
        return self._pages(routes.SCHEMA_HISTORY.call(rows(SchemaVersion.model_validate), id=dataset_id))

    @operation
    def validate_schema(self, dataset_id: str, schema: Any, *, compatibility: str | None = None
                        ) -> Flow[CompatibilityReport]:
        """A dry run: the compatibility report of a proposed schema; nothing is stored."""
        return self._request(routes.VALIDATE_SCHEMA.call(one(CompatibilityReport.model_validate),
                                                         json=_schema_body(schema, compatibility), id=dataset_id))
