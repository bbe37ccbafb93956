"""Datasets, their schemas, schema versions and compatibility reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, PrivateAttr

from docc.models.common import Input, Model

DatasetStatus = Literal["active", "inactive", "deprecated"]
Compatibility = Literal["BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL",
                        "FULL_TRANSITIVE", "NONE"]


class SchemaField(Model):
    name: str
    type: str
    nullable: bool = True
    description: str | None = None
    precision: int | None = None
    scale: int | None = None
    items: str | None = None
    values: str | None = None
    # A sensitive column is masked in quality results' failing-row samples.
    sensitive: bool | None = None


class DatasetSchema(Model):
    fields: list[SchemaField] = Field(default_factory=list)


class Dataset(Model):
    id: str
    name: str
    description: str
    status: DatasetStatus
    created_at: datetime
    updated_at: datetime
    source: dict[str, Any]
    # `schema` would shadow a pydantic method: the attribute is `schema_`, the JSON name `schema`.
    schema_: DatasetSchema = Field(alias="schema")
    tags: list[str]
    quality_score: float | None = None
    last_profiled: datetime | None = None
    _etag: str | None = PrivateAttr(default=None)

    @property
    def etag(self) -> str | None:
        """The `ETag` of this revision: pass it as `if_match=` to refuse overwriting a newer change."""
        return self._etag


class DatasetAck(Model):
    """What a key holding write:datasets but not read:datasets learns of its write."""

    id: str
    status: DatasetStatus
    revision: int


class SchemaChange(Model):
    change: str
    field: str
    old: Any = None
    new: Any = None
    breaks_backward: bool
    breaks_forward: bool
    reason: str


class CompatibilityReport(Model):
    compatibility: Compatibility
    compatible: bool
    current_version: int
    changes: list[SchemaChange]
    violations: list[dict[str, Any]]


class SchemaVersion(Model):
    dataset_id: str
    version: int
    fields: list[SchemaField]
    compatibility: Compatibility
    changes: list[dict[str, Any]]
    forced: bool
    created_by: str | None = None
    created_at: datetime
    # Only in the answer to a schema change.
    compatibility_report: CompatibilityReport | None = None


class SchemaVersionAck(Model):
    dataset_id: str
    version: int
    revision: int


class DatasetCreate(Input):
    name: str
    source: dict[str, Any]
    description: str = ""
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    tags: list[str] = Field(default_factory=list)
    status: DatasetStatus = "active"
    compatibility: Compatibility = "BACKWARD"


class DatasetUpdate(Input):
    name: str | None = None
    description: str | None = None
    source: dict[str, Any] | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    tags: list[str] | None = None
    status: DatasetStatus | None = None
    compatibility: Compatibility | None = None
