"""Quality results in the job feed, and what pipelines and lists need of them.

- `quality_results.job_id`: results of saved rules run by a pipeline's `quality_check` step name their job.
- `quality_rules.latest_result_id`: a rule keeps the id of its newest finished result (backfilled from the
  stored results), so a page of datasets reads the latest results of all their rules in one query.
- The job feed (`job_events`, engine migration 0004) carries quality-rule runs: `rule_id` and `result_id`
  columns, and triggers on `quality_results` that write `rule_started` (a run was queued) and
  `rule_finished` (it ended: passed, failed, error or cancelled; a result stored finished, as a pipeline's
  step stores it, writes only this one) in the same transaction as the change, with the same per-workspace
  `seq` as job events. `job_id`/`pipeline_id` are the job's when a pipeline ran the rule, else empty.
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

from server.migrations.by_dialect import run_sql

_BACKFILL = """UPDATE quality_rules SET latest_result_id = (
    SELECT r.id FROM quality_results r
    WHERE r.rule_id = quality_rules.id AND r.status IN ('passed', 'failed', 'error')
    ORDER BY r.created_at DESC, r.id DESC LIMIT 1)"""
_NOW = "strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')"
_COLUMNS = "workspace_id, seq, job_id, pipeline_id, kind, status, progress, step_id, step_status, time, rule_id, result_id"


def _sqlite_event(kind: str) -> str:
    return f"""
        INSERT INTO job_event_counters (workspace_id, seq) VALUES (NEW.workspace_id, 1)
        ON CONFLICT (workspace_id) DO UPDATE SET seq = seq + 1;
        INSERT INTO job_events ({_COLUMNS})
        SELECT NEW.workspace_id, c.seq, COALESCE(NEW.job_id, ''),
               COALESCE((SELECT j.pipeline_id FROM jobs j WHERE j.id = NEW.job_id), ''), {kind}, NEW.status, 0,
               NULL, NULL, {_NOW}, NEW.rule_id, NEW.id
        FROM job_event_counters c WHERE c.workspace_id = NEW.workspace_id;"""


_SQLITE = [
    f"""CREATE TRIGGER IF NOT EXISTS job_events_rule_started AFTER INSERT ON quality_results BEGIN
    {_sqlite_event("CASE WHEN NEW.status = 'running' THEN 'rule_started' ELSE 'rule_finished' END")}
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS job_events_rule_finished AFTER UPDATE OF status ON quality_results
    WHEN NEW.status IS NOT OLD.status AND OLD.status = 'running' BEGIN
    {_sqlite_event("'rule_finished'")}
    END""",
]

_POSTGRES = [
    f"""CREATE OR REPLACE FUNCTION docc_job_events_of_rule() RETURNS trigger AS $$
    DECLARE
        next_seq bigint;
        what text;
        pipeline text;
    BEGIN
        IF TG_OP = 'INSERT' THEN
            what := CASE WHEN NEW.status = 'running' THEN 'rule_started' ELSE 'rule_finished' END;
        ELSIF NEW.status IS DISTINCT FROM OLD.status AND OLD.status = 'running' THEN
            what := 'rule_finished';
        ELSE
            RETURN NULL;
        END IF;
        SELECT j.pipeline_id INTO pipeline FROM jobs j WHERE j.id = NEW.job_id;
        INSERT INTO job_event_counters (workspace_id, seq) VALUES (NEW.workspace_id, 1)
        ON CONFLICT (workspace_id) DO UPDATE SET seq = job_event_counters.seq + 1
        RETURNING seq INTO next_seq;
        INSERT INTO job_events ({_COLUMNS})
        VALUES (NEW.workspace_id, next_seq, COALESCE(NEW.job_id, ''), COALESCE(pipeline, ''), what, NEW.status, 0,
                NULL, NULL, clock_timestamp(), NEW.rule_id, NEW.id);
        PERFORM pg_notify('docc_events', json_build_object(
            'origin', 'database', 'topic', 'job_feed', 'kind', what,
            'data', json_build_object('workspace_id', NEW.workspace_id, 'seq', next_seq,
                                      'job_id', COALESCE(NEW.job_id, '')))::text);
        RETURN NULL;
    END
    $$ LANGUAGE plpgsql""",
    "DROP TRIGGER IF EXISTS job_events_of_rule ON quality_results",
    """CREATE TRIGGER job_events_of_rule AFTER INSERT OR UPDATE ON quality_results
    FOR EACH ROW EXECUTE FUNCTION docc_job_events_of_rule()""",
]


class AddFeedField(ops.AddField):
    """A column of the job feed's table (a model of the engine app), added by this app's migration."""

    def state_forward(self, app_label: str, state) -> None:
        super().state_forward("engine", state)

    async def database_forward(self, app_label: str, old_state, new_state, state_editor=None) -> None:
        await super().database_forward("engine", old_state, new_state, state_editor)

    async def database_backward(self, app_label: str, old_state, new_state, state_editor=None) -> None:
        await super().database_backward("engine", old_state, new_state, state_editor)


class Migration(migrations.Migration):
    dependencies = [("quality", "0001_initial"), ("engine", "0004_job_events")]

    initial = False

    operations = [
        ops.AddField(model_name="QualityResult", name="job_id",
                     field=fields.CharField(null=True, db_index=True, max_length=40)),
        ops.AddField(model_name="QualityRule", name="latest_result_id",
                     field=fields.CharField(null=True, max_length=40)),
        ops.RunSQL(_BACKFILL, reverse_sql=""),
        AddFeedField(model_name="JobEvent", name="rule_id", field=fields.CharField(null=True, max_length=40)),
        AddFeedField(model_name="JobEvent", name="result_id", field=fields.CharField(null=True, max_length=40)),
        ops.RunPython(run_sql(_SQLITE, _POSTGRES), reverse_code=ops.RunPython.noop),
    ]
