"""Read model of one entry of a workspace's job feed (what the dashboard sees)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from server.models.engine import JobEvent

# created: the job was queued; changed: its status, progress or a step's status moved; finished: it ended;
# rule_started: a quality rule's run was queued; rule_finished: it ended (passed, failed, error, cancelled).
EVENT_KINDS = ("created", "changed", "finished", "rule_started", "rule_finished")
RULE_KINDS = ("rule_started", "rule_finished")


@dataclass(frozen=True, slots=True)
class JobEventView:
    """A job of the workspace was created, changed or finished, or a quality rule's run started or ended;
    `cursor` resumes the feed after it.

    For a rule's run, `rule_id`, `result_id` and `rule_status` (the result's status) are set, `status` and
    `percent_complete` (the job's) are None, and `job_id`/`pipeline_id` name the job only when a pipeline's
    quality_check step ran the rule.
    """

    cursor: int
    kind: str
    job_id: str | None
    pipeline_id: str | None
    status: str | None
    percent_complete: float | None
    step_id: str | None
    step_status: str | None
    time: datetime
    rule_id: str | None = None
    result_id: str | None = None
    rule_status: str | None = None

    @classmethod
    def from_row(cls, row: JobEvent) -> JobEventView:
        if row.rule_id is None:
            return cls(cursor=row.seq, kind=row.kind, job_id=row.job_id, pipeline_id=row.pipeline_id,
                       status=row.status, percent_complete=round(row.progress * 100, 1), step_id=row.step_id,
                       step_status=row.step_status, time=row.time)
        return cls(cursor=row.seq, kind=row.kind, job_id=row.job_id or None, pipeline_id=row.pipeline_id or None,
                   status=None, percent_complete=None, step_id=None, step_status=None, time=row.time,
                   rule_id=row.rule_id, result_id=row.result_id, rule_status=row.status)
