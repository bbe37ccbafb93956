"""The staged writes of running jobs: the plan a restarted worker or a sweep completes or undoes."""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("engine", "0001_initial")]

    initial = False

    operations = [
        ops.CreateModel(
            name="StagedWrite",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("job", fields.ForeignKeyField("engine.Job", source_field="job_id", db_constraint=True, to_field="id",
                                               related_name="staged_writes", on_delete=OnDelete.CASCADE)),
                ("step_id", fields.CharField(max_length=200)),
                ("key", fields.CharField(max_length=40)),
                ("state", fields.CharField(default="staging", max_length=20)),
                ("name", fields.CharField(null=True, max_length=300)),
                ("claimed_until", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={"table": "job_staged_writes", "app": "engine", "unique_together": (("job", "step_id"),),
                     "pk_attr": "id"},
            bases=["Model"],
        ),
    ]
