"""Datasets and the stored versions of their schemas."""

from __future__ import annotations

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

from server.crypto.fields import SealedJSONField
from server.models.base import Timestamp, WorkspaceRow


class Dataset(WorkspaceRow):
    name = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    status = fields.CharField(max_length=20, default="active")
    source_type = fields.CharField(max_length=20, db_index=True)
    # Holds the unmasked connection, encrypted at rest as a whole: only the domain layer and the engine
    # read it, responses mask it.
    source = SealedJSONField()
    schema_fields = fields.JSONField()
    schema_version = fields.IntField(default=1)
    compatibility = fields.CharField(max_length=30, default="BACKWARD")
    tags = fields.JSONField(default=list)
    quality_score = fields.FloatField(null=True)
    last_profiled = Timestamp(null=True)
    # Bumped on every write: the ETag of REST and the expectedVersion of GraphQL.
    revision = fields.IntField(default=1)

    class Meta:
        table = "datasets"
        unique_together = (("workspace_id", "name"),)
        # Lists read a workspace newest first: without this, every page sorts the whole table.
        indexes = (Index(fields=("workspace_id", "created_at", "id"), name="datasets_ws_created"),)


class SchemaVersion(WorkspaceRow):
    dataset = fields.ForeignKeyField("datasets.Dataset", related_name="schema_versions",
                                     on_delete=fields.CASCADE)
    version = fields.IntField()
    schema_fields = fields.JSONField()
    compatibility = fields.CharField(max_length=30)
    changes = fields.JSONField(default=list)
    forced = fields.BooleanField(default=False)
    created_by = fields.CharField(max_length=200)

    class Meta:
        table = "dataset_schema_versions"
        unique_together = (("dataset", "version"),)


class DatasetTag(Model):
    """One tag of a dataset, kept beside `Dataset.tags` so tag filters are indexed joins."""

    id = fields.IntField(primary_key=True)
    workspace_id = fields.CharField(max_length=40)
    created_at = Timestamp(auto_now_add=True)
    updated_at = Timestamp(auto_now=True)
    dataset = fields.ForeignKeyField("datasets.Dataset", related_name="tag_rows",
                                     on_delete=fields.CASCADE)
    tag = fields.CharField(max_length=64, db_index=True)

    class Meta:
        table = "dataset_tags"
        unique_together = (("dataset", "tag"),)


class DatasetListVersion(Model):
    """Bumped by database triggers on every insert, update or delete of a workspace's datasets.

    A cached list is valid while this number is unchanged, whichever process or code path wrote.
    """

    workspace_id = fields.CharField(primary_key=True, max_length=40)
    version = fields.BigIntField(default=0)

    class Meta:
        table = "dataset_list_versions"


class ReadGeneration(Model):
    """Bumped by database triggers on every write to a table a cached GraphQL read may show.

    Datasets (their schema versions and tags), pipelines (their versions and schedules), quality rules and
    results, and profiles: an answer built from them is valid while this number is unchanged.
    """

    workspace_id = fields.CharField(primary_key=True, max_length=40)
    generation = fields.BigIntField(default=0)

    class Meta:
        table = "read_generations"
