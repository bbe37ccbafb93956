"""A version per workspace's dataset list, bumped by triggers so that no write can forget it.

Triggers rather than application code: a row changed by any process (API, worker) or any statement
(`update()` on a query set included) bumps the version in the same transaction as the change.
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

from server.migrations.by_dialect import run_sql

_SQLITE = [
    f"""CREATE TRIGGER IF NOT EXISTS datasets_list_version_{event.lower()} AFTER {event} ON datasets
    BEGIN
        INSERT INTO dataset_list_versions (workspace_id, version) VALUES ({row}.workspace_id, 1)
        ON CONFLICT (workspace_id) DO UPDATE SET version = version + 1;
    END"""
    for event, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD"))
]

_POSTGRES = [
    """CREATE OR REPLACE FUNCTION docc_bump_dataset_list_version() RETURNS trigger AS $$
    BEGIN
        INSERT INTO dataset_list_versions (workspace_id, version)
        VALUES (COALESCE(NEW.workspace_id, OLD.workspace_id), 1)
        ON CONFLICT (workspace_id) DO UPDATE SET version = dataset_list_versions.version + 1;
        RETURN NULL;
    END
    $$ LANGUAGE plpgsql""",
    "DROP TRIGGER IF EXISTS datasets_list_version ON datasets",
    """CREATE TRIGGER datasets_list_version AFTER INSERT OR UPDATE OR DELETE ON datasets
    FOR EACH ROW EXECUTE FUNCTION docc_bump_dataset_list_version()""",
]


class Migration(migrations.Migration):
    dependencies = [("datasets", "0002_sealed_source")]

    initial = False

    operations = [
        ops.CreateModel(
            name="DatasetListVersion",
            fields=[
                ("workspace_id", fields.CharField(primary_key=True, unique=True, db_index=True, max_length=40)),
                ("version", fields.BigIntField(default=0)),
            ],
            options={"table": "dataset_list_versions", "app": "datasets", "pk_attr": "workspace_id"},
            bases=["Model"],
        ),
        ops.RunPython(run_sql(_SQLITE, _POSTGRES), reverse_code=ops.RunPython.noop),
    ]
