"""/datasets: CRUD, schema, schema history and compatibility checks."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from docc import routes
from docc._core import Answer, Flow, Items, Sleep, query
from docc.errors import NotFound
from docc.models.datasets import (
    CompatibilityReport,
    Dataset,
    DatasetAck,
    DatasetCreate,
    DatasetUpdate,
    SchemaVersion,
    SchemaVersionAck,
)
from docc.models.quality import DatasetProfile
from docc.resources.base import R, Resource, body_of, listing, nothing, one, operation, rows
from docc.resources.quality import prefer_wait


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

    @operation
    def profile(self, dataset_id: str, *, wait: float | None = None, poll: float = 1.0) -> Flow[DatasetProfile]:
        """Profile the dataset's data (write:quality and read:datasets): the `running` profile at once, or
        with `wait=N` the finished one once it ends within N seconds; a profile still running after the wait
        is answered as it is. Each call starts a profiling run, so it is not sent again after a lost
        connection."""
        return self._profile(dataset_id, wait, poll)

    def _profile(self, dataset_id: str, wait: float | None, poll: float) -> Flow[DatasetProfile]:
        deadline = None if wait is None else time.monotonic() + wait
        profile: DatasetProfile = yield from self._request(routes.PROFILE_DATASET.call(
            one(DatasetProfile.model_validate), headers=prefer_wait(wait), id=dataset_id))
        while deadline is not None and not profile.finished and (left := deadline - time.monotonic()) > 0:
            # The server waits up to a minute; past it, the profile is read back as the latest finished one.
            yield Sleep(min(poll, left))
            try:
                latest = yield from self._get_profile(dataset_id)
            except NotFound:
                continue  # no profile of this dataset has finished yet
            if latest.id == profile.id:
                profile = latest
        return profile

    @operation
    def get_profile(self, dataset_id: str) -> Flow[DatasetProfile]:
        """The latest finished profile (NotFound before the first)."""
        return self._get_profile(dataset_id)

    def _get_profile(self, dataset_id: str) -> Flow[DatasetProfile]:
        return self._request(routes.GET_PROFILE.call(one(DatasetProfile.model_validate), id=dataset_id))
