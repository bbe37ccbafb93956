"""Run controls: a pipeline's concurrency policy, retries and timeout; job attempts; one writer per destination.

New job statuses (`queued`, `skipped`, `timed_out`) change which statuses are finished, so the job feed's
triggers of 0004 are made again with the new finished set.
"""

import importlib

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops

_OLD_FINISHED = "('succeeded', 'failed', 'cancelled')"
_FINISHED = "('succeeded', 'failed', 'cancelled', 'skipped', 'timed_out')"


async def recreate_triggers(apps, schema_editor) -> None:
    feed = importlib.import_module("server.migrations.engine.0004_job_events")
    if schema_editor.DIALECT == "sqlite":
        # SQLite has no CREATE OR REPLACE TRIGGER: the status trigger is dropped and made again.
        await schema_editor.client.execute_script("DROP TRIGGER IF EXISTS job_events_changed")
        statements = [feed._SQLITE[1]]
    else:
        statements = [feed._POSTGRES[1]]  # CREATE OR REPLACE FUNCTION docc_job_events_of_job()
    for statement in statements:
        assert _OLD_FINISHED in statement
        await schema_editor.client.execute_script(statement.replace(_OLD_FINISHED, _FINISHED))


class Migration(migrations.Migration):
    dependencies = [("engine", "0005_history")]

    initial = False

    operations = [
        ops.AddField(model_name="Pipeline", name="concurrency",
                     field=fields.CharField(default="queue", max_length=20)),
        ops.AddField(model_name="Pipeline", name="retries", field=fields.JSONField(null=True)),
        ops.AddField(model_name="Pipeline", name="timeout_s", field=fields.FloatField(null=True)),
        ops.AddField(model_name="Job", name="controls", field=fields.JSONField(default=dict)),
        ops.AddField(model_name="Job", name="run_after",
                     field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
        ops.AddField(model_name="Job", name="waiting_for", field=fields.TextField(null=True)),
        ops.CreateModel(
            name="JobAttempt",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("job", fields.ForeignKeyField("engine.Job", source_field="job_id", db_constraint=True, to_field="id",
                                               related_name="attempt_rows", on_delete=OnDelete.CASCADE)),
                ("number", fields.IntField()),
                ("status", fields.CharField(default="running", max_length=20)),
                ("error", fields.TextField(null=True)),
                ("started_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("finished_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={"table": "job_attempts", "app": "engine", "unique_together": (("job", "number"),),
                     "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="DestinationLease",
            fields=[
                ("key", fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ("destination", fields.TextField()),
                ("job_id", fields.CharField(db_index=True, max_length=40)),
                ("expires_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("acquired_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={"table": "destination_leases", "app": "engine", "pk_attr": "key"},
            bases=["Model"],
        ),
        ops.RunPython(recreate_triggers, reverse_code=ops.RunPython.noop),
    ]
