"""Entries of the workspace's feed (`GET /api/v1/events`)."""

from __future__ import annotations

from datetime import datetime

from docc.models.common import Model


class JobEvent(Model):
    """A job was `created`, `changed` or `finished`; `cursor` resumes the feed after it.

    Kinds and statuses are plain strings, and every field but the cursor and kind may be absent, so entries
    of kinds a newer server adds still parse (their extra fields are in `model_extra`)."""

    cursor: int
    kind: str
    job_id: str | None = None
    pipeline_id: str | None = None
    status: str | None = None
    percent_complete: float | None = None
    step_id: str | None = None
    step_status: str | None = None
    time: datetime | None = None
