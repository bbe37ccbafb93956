"""A read generation per workspace, bumped by triggers on every table a cached GraphQL read may show.

This migration makes the table and the triggers of the dataset tables; engine 0007 and quality 0003 add
those of pipelines and of quality. Triggers, like the list versions of 0003: whichever process or
statement writes, the generation moves in the same transaction as the change.
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

from server.migrations.read_generations import bump_on_writes


class Migration(migrations.Migration):
    dependencies = [("datasets", "0004_list_order_index")]

    initial = False

    operations = [
        ops.CreateModel(
            name="ReadGeneration",
            fields=[
                ("workspace_id", fields.CharField(primary_key=True, unique=True, db_index=True, max_length=40)),
                ("generation", fields.BigIntField(default=0)),
            ],
            options={"table": "read_generations", "app": "datasets", "pk_attr": "workspace_id"},
            bases=["Model"],
        ),
        ops.RunPython(bump_on_writes({"datasets": None, "dataset_schema_versions": None, "dataset_tags": None}),
                      reverse_code=ops.RunPython.noop),
    ]
