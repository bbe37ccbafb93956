"""Indexes in the order lists read (workspace, newest first), so a page no longer sorts the whole table."""

from tortoise import migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('datasets', '0003_list_versions')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Dataset',
            index=Index(fields=['workspace_id', 'created_at', 'id'], name='datasets_ws_created'),
        ),
    ]
