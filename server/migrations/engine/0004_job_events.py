"""The job feed: triggers on `jobs` and `job_steps` write `job_events` in the same transaction as the change.

Triggers rather than application code: a job changed by any process (API, worker, lease take-over) or any
statement is in the feed, and only once its change commits. The per-workspace counter row is updated by
each trigger and stays locked until commit, so two transactions of one workspace take their `seq` one
after the other and commit in that order: a reader that has seen `seq` n never later finds a smaller one.
On PostgreSQL the trigger also notifies the event relay channel; the notice is sent at commit, when the
row is visible to every process.
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

from server.migrations.by_dialect import run_sql

_FINISHED = "('succeeded', 'failed', 'cancelled')"
_NOW = "strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')"


def _sqlite_insert(workspace: str, values: str) -> str:
    return f"""
        INSERT INTO job_event_counters (workspace_id, seq) VALUES ({workspace}, 1)
        ON CONFLICT (workspace_id) DO UPDATE SET seq = seq + 1;
        INSERT INTO job_events (workspace_id, seq, job_id, pipeline_id, kind, status, progress, step_id,
                                step_status, time)
        SELECT {workspace}, c.seq, {values}, {_NOW} FROM job_event_counters c WHERE c.workspace_id = {workspace};"""


_SQLITE = [
    f"""CREATE TRIGGER IF NOT EXISTS job_events_created AFTER INSERT ON jobs BEGIN
    {_sqlite_insert("NEW.workspace_id", "NEW.id, NEW.pipeline_id, 'created', NEW.status, NEW.progress, NULL, NULL")}
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS job_events_changed AFTER UPDATE OF status, progress ON jobs
    WHEN NEW.status IS NOT OLD.status OR NEW.progress IS NOT OLD.progress BEGIN
    {_sqlite_insert("NEW.workspace_id", f'''NEW.id, NEW.pipeline_id,
        CASE WHEN NEW.status IN {_FINISHED} AND OLD.status NOT IN {_FINISHED} THEN 'finished' ELSE 'changed' END,
        NEW.status, NEW.progress, NULL, NULL''')}
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS job_events_step AFTER UPDATE OF status ON job_steps
    WHEN NEW.status IS NOT OLD.status BEGIN
    {_sqlite_insert("(SELECT j.workspace_id FROM jobs j WHERE j.id = NEW.job_id)",
                    '''NEW.job_id, (SELECT j.pipeline_id FROM jobs j WHERE j.id = NEW.job_id), 'changed',
        (SELECT j.status FROM jobs j WHERE j.id = NEW.job_id), (SELECT j.progress FROM jobs j WHERE j.id = NEW.job_id),
        NEW.step_id, NEW.status''')}
    END""",
]

_POSTGRES = [
    """CREATE OR REPLACE FUNCTION docc_job_event(ws text, job text, pipeline text, what text, job_status text,
                                              job_progress double precision, step text, step_state text)
    RETURNS void AS $$
    DECLARE
        next_seq bigint;
    BEGIN
        INSERT INTO job_event_counters (workspace_id, seq) VALUES (ws, 1)
        ON CONFLICT (workspace_id) DO UPDATE SET seq = job_event_counters.seq + 1
        RETURNING seq INTO next_seq;
        INSERT INTO job_events (workspace_id, seq, job_id, pipeline_id, kind, status, progress, step_id,
                                step_status, time)
        VALUES (ws, next_seq, job, pipeline, what, job_status, job_progress, step, step_state, clock_timestamp());
        PERFORM pg_notify('docc_events', json_build_object(
            'origin', 'database', 'topic', 'job_feed', 'kind', what,
            'data', json_build_object('workspace_id', ws, 'seq', next_seq, 'job_id', job))::text);
    END
    $$ LANGUAGE plpgsql""",
    f"""CREATE OR REPLACE FUNCTION docc_job_events_of_job() RETURNS trigger AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            PERFORM docc_job_event(NEW.workspace_id, NEW.id, NEW.pipeline_id, 'created', NEW.status,
                                   NEW.progress, NULL, NULL);
        ELSIF NEW.status IS DISTINCT FROM OLD.status OR NEW.progress IS DISTINCT FROM OLD.progress THEN
            PERFORM docc_job_event(NEW.workspace_id, NEW.id, NEW.pipeline_id,
                CASE WHEN NEW.status IN {_FINISHED} AND OLD.status NOT IN {_FINISHED}
                     THEN 'finished' ELSE 'changed' END,
                NEW.status, NEW.progress, NULL, NULL);
        END IF;
        RETURN NULL;
    END
    $$ LANGUAGE plpgsql""",
    """CREATE OR REPLACE FUNCTION docc_job_events_of_step() RETURNS trigger AS $$
    DECLARE
        owner record;
    BEGIN
        IF NEW.status IS DISTINCT FROM OLD.status THEN
            SELECT workspace_id, pipeline_id, status, progress INTO owner FROM jobs WHERE id = NEW.job_id;
            PERFORM docc_job_event(owner.workspace_id, NEW.job_id, owner.pipeline_id, 'changed', owner.status,
                                   owner.progress, NEW.step_id, NEW.status);
        END IF;
        RETURN NULL;
    END
    $$ LANGUAGE plpgsql""",
    "DROP TRIGGER IF EXISTS job_events_of_job ON jobs",
    """CREATE TRIGGER job_events_of_job AFTER INSERT OR UPDATE ON jobs
    FOR EACH ROW EXECUTE FUNCTION docc_job_events_of_job()""",
    "DROP TRIGGER IF EXISTS job_events_of_step ON job_steps",
    """CREATE TRIGGER job_events_of_step AFTER UPDATE ON job_steps
    FOR EACH ROW EXECUTE FUNCTION docc_job_events_of_step()""",
]


class Migration(migrations.Migration):
    dependencies = [("engine", "0003_list_order_indexes")]

    initial = False

    operations = [
        ops.CreateModel(
            name="JobEvent",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("workspace_id", fields.CharField(max_length=40)),
                ("seq", fields.BigIntField()),
                ("job_id", fields.CharField(max_length=40)),
                ("pipeline_id", fields.CharField(max_length=40)),
                ("kind", fields.CharField(max_length=20)),
                ("status", fields.CharField(max_length=20)),
                ("progress", fields.FloatField(default=0.0)),
                ("step_id", fields.CharField(null=True, max_length=200)),
                ("step_status", fields.CharField(null=True, max_length=20)),
                ("time", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={"table": "job_events", "app": "engine", "unique_together": (("workspace_id", "seq"),),
                     "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="JobEventCounter",
            fields=[
                ("workspace_id", fields.CharField(primary_key=True, unique=True, db_index=True, max_length=40)),
                ("seq", fields.BigIntField(default=0)),
            ],
            options={"table": "job_event_counters", "app": "engine", "pk_attr": "workspace_id"},
            bases=["Model"],
        ),
        ops.RunPython(run_sql(_SQLITE, _POSTGRES), reverse_code=ops.RunPython.noop),
    ]
