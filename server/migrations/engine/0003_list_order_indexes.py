"""Indexes in the order lists read (workspace, newest first), so a page no longer sorts the whole table."""

from tortoise import migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('engine', '0002_staged_writes')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Job',
            index=Index(fields=['workspace_id', 'created_at', 'id'], name='jobs_ws_created'),
        ),
        ops.AddIndex(
            model_name='Job',
            index=Index(fields=['pipeline_id', 'created_at', 'id'], name='jobs_pipeline_created'),
        ),
        ops.AddIndex(
            model_name='Pipeline',
            index=Index(fields=['workspace_id', 'created_at', 'id'], name='pipelines_ws_created'),
        ),
    ]
