"""Quality rules, results and profiles bump the workspace's read generation (datasets 0005)."""

from tortoise import migrations
from tortoise.migrations import operations as ops

from server.migrations.read_generations import bump_on_writes


class Migration(migrations.Migration):
    dependencies = [("quality", "0002_result_events"), ("datasets", "0005_read_generations")]

    initial = False

    operations = [
        ops.RunPython(bump_on_writes({"quality_rules": None, "quality_results": None, "dataset_profiles": None}),
                      reverse_code=ops.RunPython.noop),
    ]
