"""The signing key is encrypted at rest: the column becomes TEXT, long enough for a Fernet token.

SQLite does not enforce VARCHAR lengths, so only PostgreSQL changes the column type; the table is never
rebuilt. Existing plaintext keys are encrypted when the server starts with its secret key.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

from server.crypto.fields import SealedTextField


class AlterFieldState(ops.AlterField):
    """Record the new field in the migration state; the column itself is changed by the RunPython below."""

    async def database_forward(self, app_label, old_state, new_state, state_editor=None) -> None:
        return None

    async def database_backward(self, app_label, old_state, new_state, state_editor=None) -> None:
        return None


async def widen_secret(apps, schema_editor) -> None:
    if schema_editor.DIALECT != "sqlite":
        await schema_editor.client.execute_script('ALTER TABLE "signing_keys" ALTER COLUMN "secret" TYPE TEXT')


class Migration(migrations.Migration):
    dependencies = [("access", "0001_initial")]

    initial = False

    operations = [
        ops.RunPython(widen_secret, reverse_code=ops.RunPython.noop),
        AlterFieldState(
            model_name="SigningKey",
            name="secret",
            field=SealedTextField(unique=False),
        ),
    ]
