"""A dataset's source is encrypted at rest; its column keeps its JSON type (the sealed form is a JSON string).

Only the migration state changes: rebuilding `datasets` on SQLite would cascade to its schema versions and
tags. Existing plaintext sources are encrypted when the server starts with its secret key.
"""

from orjson import loads
from tortoise import migrations
from tortoise.fields.data import JSON_DUMPS
from tortoise.migrations import operations as ops

from server.crypto.fields import SealedJSONField


class AlterFieldState(ops.AlterField):
    """Record the new field in the migration state without touching the table."""

    async def database_forward(self, app_label, old_state, new_state, state_editor=None) -> None:
        return None

    async def database_backward(self, app_label, old_state, new_state, state_editor=None) -> None:
        return None


class Migration(migrations.Migration):
    dependencies = [("datasets", "0001_initial")]

    initial = False

    operations = [
        AlterFieldState(
            model_name="Dataset",
            name="source",
            field=SealedJSONField(encoder=JSON_DUMPS, decoder=loads),
        ),
    ]
