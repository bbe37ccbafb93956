"""Pipelines, their versions and their schedules bump the workspace's read generation (datasets 0005)."""

from tortoise import migrations
from tortoise.migrations import operations as ops

from server.migrations.read_generations import bump_on_writes


class Migration(migrations.Migration):
    dependencies = [("engine", "0006_run_controls"), ("datasets", "0005_read_generations")]

    initial = False

    operations = [
        ops.RunPython(bump_on_writes({"pipelines": None, "pipeline_versions": ("pipelines", "pipeline_id"),
                                      "pipeline_schedules": None}),
                      reverse_code=ops.RunPython.noop),
    ]
