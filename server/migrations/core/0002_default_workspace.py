from tortoise import migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]

    operations = [
        ops.RunSQL(
            "INSERT INTO workspaces (id, name, created_at, updated_at) "
            "VALUES ('ws_default', 'default', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
            reverse_sql="DELETE FROM workspaces WHERE id = 'ws_default'",
        ),
    ]
