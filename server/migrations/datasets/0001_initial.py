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
            name='Dataset',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=40)),
                ('workspace_id', fields.CharField(db_index=True, max_length=40)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('name', fields.CharField(max_length=200)),
                ('description', fields.TextField(default='', unique=False)),
                ('status', fields.CharField(default='active', max_length=20)),
                ('source_type', fields.CharField(db_index=True, max_length=20)),
                ('source', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('schema_fields', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('schema_version', fields.IntField(default=1)),
                ('compatibility', fields.CharField(default='BACKWARD', max_length=30)),
                ('tags', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('quality_score', fields.FloatField(null=True)),
                ('last_profiled', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revision', fields.IntField(default=1)),
            ],
            options={'table': 'datasets', 'app': 'datasets', 'unique_together': (('workspace_id', 'name'),), 'pk_attr': 'id'},
            bases=['WorkspaceRow'],
        ),
        ops.CreateModel(
            name='DatasetTag',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('workspace_id', fields.CharField(max_length=40)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('dataset', fields.ForeignKeyField('datasets.Dataset', source_field='dataset_id', db_constraint=True, to_field='id', related_name='tag_rows', on_delete=OnDelete.CASCADE)),
                ('tag', fields.CharField(db_index=True, max_length=64)),
            ],
            options={'table': 'dataset_tags', 'app': 'datasets', 'unique_together': (('dataset', 'tag'),), 'pk_attr': 'id', 'table_description': 'One tag of a dataset, kept beside `Dataset.tags` so tag filters are indexed joins.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SchemaVersion',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=40)),
                ('workspace_id', fields.CharField(db_index=True, max_length=40)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('dataset', fields.ForeignKeyField('datasets.Dataset', source_field='dataset_id', db_constraint=True, to_field='id', related_name='schema_versions', on_delete=OnDelete.CASCADE)),
                ('version', fields.IntField()),
                ('schema_fields', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('compatibility', fields.CharField(max_length=30)),
                ('changes', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('forced', fields.BooleanField(default=False)),
                ('created_by', fields.CharField(max_length=200)),
            ],
            options={'table': 'dataset_schema_versions', 'app': 'datasets', 'unique_together': (('dataset', 'version'),), 'pk_attr': 'id'},
            bases=['WorkspaceRow'],
        ),
    ]
