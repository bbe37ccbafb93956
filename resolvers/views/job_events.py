"""Read model of one entry of a workspace's job feed (what the dashboard sees)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from server.models.engine import JobEvent

# created: the job was queued; changed: its status, progress or a step's status moved; finished: it ended.
EVENT_KINDS = ("created", "changed", "finished")


@dataclass(frozen=True, slots=True)
class JobEventView:
    """A job of the workspace was created, changed or finished; `cursor` resumes the feed after it."""

    cursor: int
    kind: str
    job_id: str
    pipeline_id: str
    status: str
    percent_complete: float
    step_id: str | None
    step_status: str | None
    time: datetime

    @classmethod
    def from_row(cls, row: JobEvent) -> JobEventView:
        return cls(cursor=row.seq, kind=row.kind, job_id=row.job_id, pipeline_id=row.pipeline_id,
                   status=row.status, percent_complete=round(row.progress * 100, 1), step_id=row.step_id,
                   step_status=row.step_status, time=row.time)
