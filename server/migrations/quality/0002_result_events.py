"""Results of quality rules run by a pipeline's `quality_check` step name their job (`job_id`); a rule keeps
the id of its newest finished result (`latest_result_id`), so a page of datasets reads the latest results
of all their rules in one query. Existing rules get theirs from the stored results."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

_BACKFILL = """UPDATE quality_rules SET latest_result_id = (
    SELECT r.id FROM quality_results r
    WHERE r.rule_id = quality_rules.id AND r.status IN ('passed', 'failed', 'error')
    ORDER BY r.created_at DESC, r.id DESC LIMIT 1)"""


class Migration(migrations.Migration):
    dependencies = [("quality", "0001_initial")]

    initial = False

    operations = [
        ops.AddField(model_name="QualityResult", name="job_id",
                     field=fields.CharField(null=True, db_index=True, max_length=40)),
        ops.AddField(model_name="QualityRule", name="latest_result_id",
                     field=fields.CharField(null=True, max_length=40)),
        ops.RunSQL(_BACKFILL, reverse_sql=""),
    ]
