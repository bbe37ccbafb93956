from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('datasets', '0002_sealed_source')]

    initial = True

    operations = [
        ops.CreateModel(
            name='DatasetProfile',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=40)),
                ('workspace_id', fields.CharField(db_index=True, max_length=40)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('dataset', fields.ForeignKeyField('datasets.Dataset', source_field='dataset_id', db_constraint=True, to_field='id', related_name='profiles', on_delete=OnDelete.CASCADE)),
                ('schema_version', fields.IntField()),
                ('status', fields.CharField(default='running', db_index=True, max_length=20)),
                ('row_count', fields.BigIntField(null=True)),
                ('columns', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('error', fields.TextField(null=True, unique=False)),
                ('started_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('duration_s', fields.FloatField(null=True)),
                ('runner', fields.CharField(null=True, max_length=120)),
                ('lease_expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('cancel_requested', fields.BooleanField(default=False)),
                ('created_by', fields.CharField(default='', max_length=200)),
            ],
            options={'table': 'dataset_profiles', 'app': 'quality', 'pk_attr': 'id', 'table_description': "One profiling of a dataset's data: per column counts, distinct values, bounds and lengths."},
            bases=['WorkspaceRow'],
        ),
        ops.CreateModel(
            name='QualityRule',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=40)),
                ('workspace_id', fields.CharField(db_index=True, max_length=40)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('dataset', fields.ForeignKeyField('datasets.Dataset', source_field='dataset_id', db_constraint=True, to_field='id', related_name='quality_rules', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=200)),
                ('description', fields.TextField(default='', unique=False)),
                ('rule_type', fields.CharField(db_index=True, max_length=30)),
                ('config', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('severity', fields.CharField(default='error', db_index=True, max_length=10)),
                ('enabled', fields.BooleanField(default=True, db_index=True)),
                ('version', fields.IntField(default=1)),
                ('cron', fields.CharField(null=True, max_length=120)),
                ('timezone', fields.CharField(default='UTC', max_length=64)),
                ('latest_status', fields.CharField(null=True, db_index=True, max_length=20)),
                ('created_by', fields.CharField(default='', max_length=200)),
            ],
            options={'table': 'quality_rules', 'app': 'quality', 'pk_attr': 'id'},
            bases=['WorkspaceRow'],
        ),
        ops.CreateModel(
            name='QualityResult',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=40)),
                ('workspace_id', fields.CharField(db_index=True, max_length=40)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('rule', fields.ForeignKeyField('quality.QualityRule', source_field='rule_id', db_constraint=True, to_field='id', related_name='results', on_delete=OnDelete.CASCADE)),
                ('dataset_id', fields.CharField(db_index=True, max_length=40)),
                ('rule_version', fields.IntField()),
                ('schema_version', fields.IntField()),
                ('severity', fields.CharField(max_length=10)),
                ('status', fields.CharField(default='running', db_index=True, max_length=20)),
                ('trigger', fields.CharField(default='manual', max_length=20)),
                ('rows_checked', fields.BigIntField(null=True)),
                ('rows_failed', fields.BigIntField(null=True)),
                ('nulls', fields.BigIntField(null=True)),
                ('pass_ratio', fields.FloatField(null=True)),
                ('threshold', fields.FloatField()),
                ('observed', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('sample', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('error', fields.TextField(null=True, unique=False)),
                ('started_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('duration_s', fields.FloatField(null=True)),
                ('created_by', fields.CharField(default='', max_length=200)),
                ('runner', fields.CharField(null=True, max_length=120)),
                ('lease_expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('cancel_requested', fields.BooleanField(default=False)),
                ('scheduled_for', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'quality_results', 'app': 'quality', 'unique_together': (('rule', 'scheduled_for'),), 'pk_attr': 'id'},
            bases=['WorkspaceRow'],
        ),
    ]
