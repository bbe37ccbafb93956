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
            name='Pipeline',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=40)),
                ('workspace_id', fields.CharField(db_index=True, max_length=40)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('name', fields.CharField(max_length=200)),
                ('description', fields.TextField(default='', unique=False)),
                ('steps', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('version', fields.IntField(default=1)),
                ('created_by', fields.CharField(default='', max_length=200)),
            ],
            options={'table': 'pipelines', 'app': 'engine', 'unique_together': (('workspace_id', 'name'),), 'pk_attr': 'id'},
            bases=['WorkspaceRow'],
        ),
        ops.CreateModel(
            name='Job',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=40)),
                ('workspace_id', fields.CharField(db_index=True, max_length=40)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('pipeline', fields.ForeignKeyField('engine.Pipeline', source_field='pipeline_id', db_constraint=True, to_field='id', related_name='jobs', on_delete=OnDelete.CASCADE)),
                ('pipeline_version', fields.IntField()),
                ('steps', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('status', fields.CharField(default='pending', db_index=True, max_length=20)),
                ('trigger', fields.CharField(default='manual', max_length=20)),
                ('retry_of', fields.CharField(null=True, max_length=40)),
                ('from_step', fields.CharField(null=True, max_length=200)),
                ('schedule_id', fields.CharField(null=True, max_length=40)),
                ('scheduled_for', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('idempotency_key', fields.CharField(null=True, max_length=200)),
                ('created_by', fields.CharField(default='', max_length=200)),
                ('started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('progress', fields.FloatField(default=0.0)),
                ('statistics', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('error', fields.TextField(null=True, unique=False)),
                ('cancel_requested', fields.BooleanField(default=False)),
                ('lease_owner', fields.CharField(null=True, max_length=120)),
                ('lease_token', fields.CharField(null=True, max_length=40)),
                ('lease_expires_at', fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False)),
                ('attempts', fields.IntField(default=0)),
            ],
            options={'table': 'jobs', 'app': 'engine', 'unique_together': (('schedule_id', 'scheduled_for'), ('workspace_id', 'idempotency_key')), 'pk_attr': 'id'},
            bases=['WorkspaceRow'],
        ),
        ops.CreateModel(
            name='JobLog',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('job', fields.ForeignKeyField('engine.Job', source_field='job_id', db_constraint=True, to_field='id', related_name='log_rows', on_delete=OnDelete.CASCADE)),
                ('seq', fields.IntField()),
                ('time', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('level', fields.CharField(max_length=10)),
                ('step_id', fields.CharField(null=True, max_length=200)),
                ('message', fields.TextField(unique=False)),
            ],
            options={'table': 'job_logs', 'app': 'engine', 'unique_together': (('job', 'seq'),), 'pk_attr': 'id', 'table_description': 'One log line of a job: `seq` is monotonic per job and is the cursor of every reader.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='JobStep',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('job', fields.ForeignKeyField('engine.Job', source_field='job_id', db_constraint=True, to_field='id', related_name='step_rows', on_delete=OnDelete.CASCADE)),
                ('position', fields.IntField()),
                ('step_id', fields.CharField(max_length=200)),
                ('type', fields.CharField(max_length=40)),
                ('status', fields.CharField(default='pending', max_length=20)),
                ('rows_in', fields.BigIntField(null=True)),
                ('rows_out', fields.BigIntField(null=True)),
                ('duration_s', fields.FloatField(null=True)),
                ('error', fields.TextField(null=True, unique=False)),
                ('started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'job_steps', 'app': 'engine', 'unique_together': (('job', 'step_id'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PipelineVersion',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=40)),
                ('pipeline', fields.ForeignKeyField('engine.Pipeline', source_field='pipeline_id', db_constraint=True, to_field='id', related_name='versions', on_delete=OnDelete.CASCADE)),
                ('version', fields.IntField()),
                ('name', fields.CharField(max_length=200)),
                ('description', fields.TextField(default='', unique=False)),
                ('steps', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('created_by', fields.CharField(max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'pipeline_versions', 'app': 'engine', 'unique_together': (('pipeline', 'version'),), 'pk_attr': 'id', 'table_description': "Every saved change of a pipeline's definition, kept so a job can name what it ran."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Schedule',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=40)),
                ('workspace_id', fields.CharField(db_index=True, max_length=40)),
                ('pipeline', fields.OneToOneField('engine.Pipeline', source_field='pipeline_id', db_constraint=True, to_field='id', related_name='schedule', on_delete=OnDelete.CASCADE)),
                ('cron', fields.CharField(max_length=120)),
                ('timezone', fields.CharField(default='UTC', max_length=64)),
                ('paused', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'pipeline_schedules', 'app': 'engine', 'pk_attr': 'id', 'table_description': "A pipeline's cron schedule, at most one per pipeline."},
            bases=['Model'],
        ),
    ]
