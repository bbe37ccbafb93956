"""History kept: pipelines are deleted softly (their jobs stay readable), and each has its own job log level.

A deleted pipeline keeps its row, with `deleted_at` set, so the jobs, steps and logs that point at it stay;
its name moves to `deleted_name` and `name` becomes `~<id>`, which frees the name for a new pipeline without
touching the (workspace, name) unique constraint (SQLite cannot drop it without rebuilding the table).
Retention (DOCC_JOB_RETENTION_DAYS) purges the row once no job of it is left; the index below finds them.
"""

from tortoise import fields, migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("engine", "0004_job_events")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Pipeline",
            name="deleted_at",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name="Pipeline",
            name="deleted_name",
            field=fields.CharField(null=True, max_length=200),
        ),
        ops.AddField(
            model_name="Pipeline",
            name="log_level",
            field=fields.CharField(null=True, max_length=10),
        ),
        ops.AddIndex(
            model_name="Job",
            index=Index(fields=["status", "finished_at"], name="jobs_status_finished"),
        ),
    ]
