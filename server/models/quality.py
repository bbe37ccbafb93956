"""Quality rules of datasets, the stored result of every run, and column profiles."""

from __future__ import annotations

from tortoise import fields

from server.models.base import Timestamp, WorkspaceRow


class QualityRule(WorkspaceRow):
    dataset = fields.ForeignKeyField("datasets.Dataset", related_name="quality_rules", on_delete=fields.CASCADE)
    name = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    rule_type = fields.CharField(max_length=30, db_index=True)
    # As the client sent it (the reference keeps `threshold` inside), after validation for its type.
    config = fields.JSONField()
    severity = fields.CharField(max_length=10, default="error", db_index=True)
    enabled = fields.BooleanField(default=True, db_index=True)
    # Bumped by every change of what the rule checks; each result names the version it ran.
    version = fields.IntField(default=1)
    cron = fields.CharField(max_length=120, null=True)
    timezone = fields.CharField(max_length=64, default="UTC")
    # The status of the newest finished result, kept here so lists filter on it without a join.
    latest_status = fields.CharField(max_length=20, null=True, db_index=True)
    created_by = fields.CharField(max_length=200, default="")

    class Meta:
        table = "quality_rules"


class QualityResult(WorkspaceRow):
    rule = fields.ForeignKeyField("quality.QualityRule", related_name="results", on_delete=fields.CASCADE)
    dataset_id = fields.CharField(max_length=40, db_index=True)
    rule_version = fields.IntField()
    schema_version = fields.IntField()
    severity = fields.CharField(max_length=10)
    # running, then passed | failed | error | cancelled
    status = fields.CharField(max_length=20, default="running", db_index=True)
    trigger = fields.CharField(max_length=20, default="manual")
    rows_checked = fields.BigIntField(null=True)
    rows_failed = fields.BigIntField(null=True)
    nulls = fields.BigIntField(null=True)
    pass_ratio = fields.FloatField(null=True)
    threshold = fields.FloatField()
    observed = fields.JSONField(null=True)
    sample = fields.JSONField(default=list)
    error = fields.TextField(null=True)
    started_at = Timestamp()
    finished_at = Timestamp(null=True)
    duration_s = fields.FloatField(null=True)
    created_by = fields.CharField(max_length=200, default="")
    # The process that claimed the run (None until one does) and whether a caller asked to stop it.
    runner = fields.CharField(max_length=120, null=True)
    # Renewed by the claimer while it runs: past it, another process may take the run over.
    lease_expires_at = Timestamp(null=True)
    cancel_requested = fields.BooleanField(default=False)
    # A scheduled tick makes at most one result: the (rule, scheduled_for) pair is unique.
    scheduled_for = Timestamp(null=True)

    class Meta:
        table = "quality_results"
        unique_together = (("rule", "scheduled_for"),)


class DatasetProfile(WorkspaceRow):
    """One profiling of a dataset's data: per column counts, distinct values, bounds and lengths."""

    dataset = fields.ForeignKeyField("datasets.Dataset", related_name="profiles", on_delete=fields.CASCADE)
    schema_version = fields.IntField()
    # running, then succeeded | failed | cancelled
    status = fields.CharField(max_length=20, default="running", db_index=True)
    row_count = fields.BigIntField(null=True)
    columns = fields.JSONField(default=list)
    error = fields.TextField(null=True)
    started_at = Timestamp()
    finished_at = Timestamp(null=True)
    duration_s = fields.FloatField(null=True)
    runner = fields.CharField(max_length=120, null=True)
    lease_expires_at = Timestamp(null=True)
    cancel_requested = fields.BooleanField(default=False)
    created_by = fields.CharField(max_length=200, default="")

    class Meta:
        table = "dataset_profiles"
