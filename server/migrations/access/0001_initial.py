from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='ApiKey',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=40)),
                ('workspace_id', fields.CharField(db_index=True, max_length=40)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('name', fields.CharField(max_length=100)),
                ('prefix', fields.CharField(max_length=20)),
                ('key_hash', fields.CharField(unique=True, max_length=64)),
                ('scopes', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('allowed_cidrs', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('rotated_from', fields.CharField(null=True, max_length=40)),
                ('created_by', fields.CharField(default='', max_length=200)),
            ],
            options={'table': 'api_keys', 'app': 'access', 'pk_attr': 'id'},
            bases=['WorkspaceRow'],
        ),
        ops.CreateModel(
            name='OAuthClient',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=40)),
                ('workspace_id', fields.CharField(db_index=True, max_length=40)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('name', fields.CharField(max_length=100)),
                ('scopes', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('redirect_uris', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'oauth_clients', 'app': 'access', 'pk_attr': 'id'},
            bases=['WorkspaceRow'],
        ),
        ops.CreateModel(
            name='AuthorizationCode',
            fields=[
                ('code_hash', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('client', fields.ForeignKeyField('access.OAuthClient', source_field='client_id', db_constraint=True, to_field='id', related_name='codes', on_delete=OnDelete.CASCADE)),
                ('workspace_id', fields.CharField(max_length=40)),
                ('subject', fields.CharField(max_length=200)),
                ('scopes', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('redirect_uri', fields.CharField(max_length=2000)),
                ('code_challenge', fields.CharField(max_length=128)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'oauth_authorization_codes', 'app': 'access', 'pk_attr': 'code_hash'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OAuthClientSecret',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=40)),
                ('client', fields.ForeignKeyField('access.OAuthClient', source_field='client_id', db_constraint=True, to_field='id', related_name='secrets', on_delete=OnDelete.CASCADE)),
                ('prefix', fields.CharField(max_length=20)),
                ('secret_hash', fields.CharField(unique=True, max_length=64)),
                ('description', fields.CharField(default='', max_length=200)),
                ('expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'oauth_client_secrets', 'app': 'access', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RefreshToken',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=40)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('family_id', fields.CharField(db_index=True, max_length=40)),
                ('client', fields.ForeignKeyField('access.OAuthClient', source_field='client_id', db_constraint=True, to_field='id', related_name='refresh_tokens', on_delete=OnDelete.CASCADE)),
                ('workspace_id', fields.CharField(max_length=40)),
                ('subject', fields.CharField(max_length=200)),
                ('scopes', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'oauth_refresh_tokens', 'app': 'access', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SigningKey',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=40)),
                ('secret', fields.CharField(max_length=128)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'signing_keys', 'app': 'access', 'pk_attr': 'id', 'table_description': "The server's own HMAC key for the access tokens it issues (when DOCC_JWT_SIGNING_KEY is unset)."},
            bases=['Model'],
        ),
    ]
