"""Results of quality rules run by a pipeline's `quality_check` step name their job (`job_id`)."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("quality", "0001_initial")]

    initial = False

    operations = [
        ops.AddField(model_name="QualityResult", name="job_id",
                     field=fields.CharField(null=True, db_index=True, max_length=40)),
    ]
