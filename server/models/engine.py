"""Pipelines, their versions and schedules, and the jobs that run them with their steps and logs."""

from __future__ import annotations

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

from server.models.base import Timestamp, WorkspaceRow

# `queued`: waiting for a slot (a running-jobs limit, or the pipeline's concurrency policy); `pending`: claimable.
JOB_STATUSES = ("queued", "pending", "running", "succeeded", "failed", "cancelled", "skipped", "timed_out")
FINISHED = ("succeeded", "failed", "cancelled", "skipped", "timed_out")
TRIGGERS = ("manual", "schedule", "retry")
# Job log levels, least severe first (a pipeline's `log_level` is one of them).
LOG_LEVELS = ("debug", "info", "warning", "error")
# What a run does when another run of its pipeline is active (see server/engine/admission.py).
CONCURRENCY_POLICIES = ("allow", "queue", "skip", "replace")


class Pipeline(WorkspaceRow):
    name = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    steps = fields.JSONField()
    # The number of the current PipelineVersion; also the optimistic revision of the row.
    version = fields.IntField(default=1)
    created_by = fields.CharField(max_length=200, default="")
    # History (engine migration 0005): a deleted pipeline stays, hidden, while jobs of it are kept; its
    # `name` is then `~<id>` (no live name can take that form) and the name it had moves to `deleted_name`.
    deleted_at = Timestamp(null=True)
    deleted_name = fields.CharField(max_length=200, null=True)
    # The lowest level its jobs' logs store (debug, info, warning, error); None: DOCC_JOB_LOG_LEVEL.
    log_level = fields.CharField(max_length=10, null=True)
    # Run controls (not versioned, like the schedule): copied onto each job when it is made.
    concurrency = fields.CharField(max_length=20, default="queue")
    retries = fields.JSONField(null=True)
    timeout_s = fields.FloatField(null=True)

    class Meta:
        table = "pipelines"
        unique_together = (("workspace_id", "name"),)
        # Lists read a workspace newest first: without this, every page sorts the whole table.
        indexes = (Index(fields=("workspace_id", "created_at", "id"), name="pipelines_ws_created"),)


class PipelineVersion(Model):
    """Every saved change of a pipeline's definition, kept so a job can name what it ran."""

    id = fields.CharField(primary_key=True, max_length=40)
    pipeline = fields.ForeignKeyField("engine.Pipeline", related_name="versions", on_delete=fields.CASCADE)
    version = fields.IntField()
    name = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    steps = fields.JSONField()
    created_by = fields.CharField(max_length=200)
    created_at = Timestamp(auto_now_add=True)

    class Meta:
        table = "pipeline_versions"
        unique_together = (("pipeline", "version"),)


class Schedule(Model):
    """A pipeline's cron schedule, at most one per pipeline."""

    id = fields.CharField(primary_key=True, max_length=40)
    workspace_id = fields.CharField(max_length=40, db_index=True)
    pipeline = fields.OneToOneField("engine.Pipeline", related_name="schedule", on_delete=fields.CASCADE)
    cron = fields.CharField(max_length=120)
    timezone = fields.CharField(max_length=64, default="UTC")
    paused = fields.BooleanField(default=False)
    created_at = Timestamp(auto_now_add=True)
    updated_at = Timestamp(auto_now=True)

    class Meta:
        table = "pipeline_schedules"


class Job(WorkspaceRow):
    pipeline = fields.ForeignKeyField("engine.Pipeline", related_name="jobs", on_delete=fields.CASCADE)
    pipeline_version = fields.IntField()
    # The steps this job runs: the version's steps, or fewer for a retry from the failed step.
    steps = fields.JSONField()
    status = fields.CharField(max_length=20, default="pending", db_index=True)
    trigger = fields.CharField(max_length=20, default="manual")
    retry_of = fields.CharField(max_length=40, null=True)
    from_step = fields.CharField(max_length=200, null=True)
    # A scheduled tick makes at most one job: the (schedule_id, scheduled_for) pair is unique.
    schedule_id = fields.CharField(max_length=40, null=True)
    scheduled_for = Timestamp(null=True)
    idempotency_key = fields.CharField(max_length=200, null=True)
    created_by = fields.CharField(max_length=200, default="")
    started_at = Timestamp(null=True)
    finished_at = Timestamp(null=True)
    progress = fields.FloatField(default=0.0)
    statistics = fields.JSONField(default=dict)
    error = fields.TextField(null=True)
    cancel_requested = fields.BooleanField(default=False)
    # The lease of the process running the job: its owner, a token per claim, and when it expires.
    lease_owner = fields.CharField(max_length=120, null=True)
    lease_token = fields.CharField(max_length=40, null=True)
    lease_expires_at = Timestamp(null=True, db_index=True)
    # How many times a process claimed the job (lease takeovers and retries included): names its staging key.
    attempts = fields.IntField(default=0)
    # The pipeline's run controls when the job was made: {"concurrency", "retries", "timeout_s"}.
    controls = fields.JSONField(default=dict)
    # A retry waits until then before it may be claimed.
    run_after = Timestamp(null=True)
    # What the job waits for right now (a writer of one of its destinations), shown while it waits.
    waiting_for = fields.TextField(null=True)

    class Meta:
        table = "jobs"
        unique_together = (("schedule_id", "scheduled_for"), ("workspace_id", "idempotency_key"))
        # Job lists read newest first, of a workspace or of one pipeline: no page sorts the whole table.
        indexes = (Index(fields=("workspace_id", "created_at", "id"), name="jobs_ws_created"),
                   Index(fields=("pipeline_id", "created_at", "id"), name="jobs_pipeline_created"),
                   # Retention finds finished jobs by age (engine migration 0005).
                   Index(fields=("status", "finished_at"), name="jobs_status_finished"))


class JobAttempt(Model):
    """One run of a job under its retry policy: its outcome and error, kept when the job is run again."""

    id = fields.IntField(primary_key=True)
    job = fields.ForeignKeyField("engine.Job", related_name="attempt_rows", on_delete=fields.CASCADE)
    number = fields.IntField()
    status = fields.CharField(max_length=20, default="running")
    error = fields.TextField(null=True)
    started_at = Timestamp()
    finished_at = Timestamp(null=True)

    class Meta:
        table = "job_attempts"
        unique_together = (("job", "number"),)


class DestinationLease(Model):
    """The one job allowed to write a destination now: keyed by the destination's normalized form.

    It expires with the holder's job lease (renewed with it), so a killed process holds nothing for long.
    """

    key = fields.CharField(max_length=64, primary_key=True)
    destination = fields.TextField()
    job_id = fields.CharField(max_length=40, db_index=True)
    expires_at = Timestamp()
    acquired_at = Timestamp()

    class Meta:
        table = "destination_leases"


class JobStep(Model):
    id = fields.IntField(primary_key=True)
    job = fields.ForeignKeyField("engine.Job", related_name="step_rows", on_delete=fields.CASCADE)
    position = fields.IntField()
    step_id = fields.CharField(max_length=200)
    type = fields.CharField(max_length=40)
    status = fields.CharField(max_length=20, default="pending")
    rows_in = fields.BigIntField(null=True)
    rows_out = fields.BigIntField(null=True)
    duration_s = fields.FloatField(null=True)
    error = fields.TextField(null=True)
    started_at = Timestamp(null=True)
    finished_at = Timestamp(null=True)

    class Meta:
        table = "job_steps"
        unique_together = (("job", "step_id"),)


class JobLog(Model):
    """One log line of a job: `seq` is monotonic per job and is the cursor of every reader."""

    id = fields.IntField(primary_key=True)
    job = fields.ForeignKeyField("engine.Job", related_name="log_rows", on_delete=fields.CASCADE)
    seq = fields.IntField()
    time = Timestamp()
    level = fields.CharField(max_length=10)
    step_id = fields.CharField(max_length=200, null=True)
    message = fields.TextField()

    class Meta:
        table = "job_logs"
        unique_together = (("job", "seq"),)


STAGED_STATES = ("staging", "publishing")


class StagedWrite(Model):
    """One sink of a job's attempt: what it staged where, and whether the job decided to publish it.

    Rows are written before the job's process starts (`staging`), so whatever it leaves behind can be
    found; the switch of every row of a job to `publishing` in one UPDATE is the decision to publish,
    taken once every step succeeded. A row goes when its staged write is published or removed; rows
    left over are completed (`publishing`) or undone (`staging`) by the next run of the job or a sweep.
    """

    id = fields.IntField(primary_key=True)
    job = fields.ForeignKeyField("engine.Job", related_name="staged_writes", on_delete=fields.CASCADE)
    step_id = fields.CharField(max_length=200)
    # `<job id hex>_<attempt>`: carried by every staged name, so a staged object tells whose it is.
    key = fields.CharField(max_length=40)
    state = fields.CharField(max_length=20, default="staging")
    # The staged object (a staging table or a temp file's base name), known once the sink staged it.
    name = fields.CharField(max_length=300, null=True)
    # A sweep holds the job's rows until then, so two sweeps never finish the same plan at once.
    claimed_until = Timestamp(null=True)
    updated_at = Timestamp(auto_now=True)

    class Meta:
        table = "job_staged_writes"
        unique_together = (("job", "step_id"),)


class JobEvent(Model):
    """One entry of a workspace's job feed, written by database triggers on `jobs`, `job_steps` and
    `quality_results`.

    `seq` counts per workspace without gaps, in commit order (see engine migration 0003): it is the cursor.
    """

    id = fields.BigIntField(primary_key=True)
    workspace_id = fields.CharField(max_length=40)
    seq = fields.BigIntField()
    job_id = fields.CharField(max_length=40)
    pipeline_id = fields.CharField(max_length=40)
    kind = fields.CharField(max_length=20)
    status = fields.CharField(max_length=20)
    progress = fields.FloatField(default=0.0)
    step_id = fields.CharField(max_length=200, null=True)
    step_status = fields.CharField(max_length=20, null=True)
    time = Timestamp()
    # A quality rule's run (kinds rule_started, rule_finished; quality migration 0002): the rule and the
    # result, whose status is in `status`; `job_id`/`pipeline_id` are empty unless a pipeline ran it.
    rule_id = fields.CharField(max_length=40, null=True)
    result_id = fields.CharField(max_length=40, null=True)

    class Meta:
        table = "job_events"
        unique_together = (("workspace_id", "seq"),)


class JobEventCounter(Model):
    """The last feed `seq` of a workspace; the triggers take its row lock, so cursors commit in order."""

    workspace_id = fields.CharField(max_length=40, primary_key=True)
    seq = fields.BigIntField(default=0)

    class Meta:
        table = "job_event_counters"
