"""Jobs, their steps and log lines. A job answered by a client is bound to it: `job.wait()`, `job.logs()`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import PrivateAttr

from docc.models.common import Model

JobStatus = Literal["queued", "pending", "running", "succeeded", "failed", "cancelled", "skipped", "timed_out"]
FINISHED: frozenset[str] = frozenset({"succeeded", "failed", "cancelled", "skipped", "timed_out"})


class JobAttempt(Model):
    """One run of a job under its pipeline's retry policy."""

    number: int
    status: str
    error: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


class JobStep(Model):
    id: str
    type: str
    status: str
    rows_in: int | None = None
    rows_out: int | None = None
    duration_s: float | None = None
    error: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


class Job(Model):
    id: str
    pipeline_id: str
    pipeline_version: int
    # One of JobStatus, or a status a newer server adds: parsed as text, never refused.
    status: str
    trigger: str
    retry_of: str | None = None
    from_step: str | None = None
    scheduled_for: datetime | None = None
    created_by: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float | None = None
    percent_complete: float
    statistics: dict[str, Any] | None = None
    error: str | None = None
    cancel_requested: bool = False
    # How many times a process claimed it (lease takeovers included); `attempts` are its runs.
    claims: int = 0
    waiting_for: str | None = None
    next_attempt_at: datetime | None = None
    attempts: list[JobAttempt] = []
    # Its pipeline was deleted; the job stays readable as history.
    pipeline_deleted: bool = False
    steps: list[JobStep]
    # The client's jobs resource that answered this job: sync or async, so are wait(), logs(), ...
    _jobs: Any = PrivateAttr(default=None)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    def _bound(self) -> Any:
        if self._jobs is None:
            raise RuntimeError("This job was not answered by a client; use client.jobs.* with its id")
        return self._jobs

    def refresh(self) -> Any:
        """The job now (a coroutine from an AsyncClient)."""
        return self._bound().get(self.id)

    def wait(self, timeout: float | None = None, *, raise_on_failure: bool = False) -> Any:
        """Block until the job ends and answer its final state (a coroutine from an AsyncClient).

        Raises WaitTimeout after `timeout` seconds, JobFailed on failure when `raise_on_failure`."""
        return self._bound().wait(self.id, timeout=timeout, raise_on_failure=raise_on_failure)

    def logs(self, *, follow: bool = False, after: int | None = None, level: str | None = None) -> Any:
        """Its log lines; with follow=True live until the job ends (an async iterator from an AsyncClient)."""
        return self._bound().logs(self.id, follow=follow, after=after, level=level)

    def cancel(self) -> Any:
        return self._bound().cancel(self.id)

    def retry(self, *, from_failed_step: bool = False) -> Any:
        return self._bound().retry(self.id, from_failed_step=from_failed_step)


class JobAck(Model):
    """What a key holding run:pipelines but not read:jobs learns of the job it started or cancelled."""

    id: str
    status: str


class LogLine(Model):
    seq: int
    time: datetime
    level: str
    step_id: str | None = None
    message: str


class LogPage(Model):
    job_id: str
    data: list[LogLine]
    next_after: int | None = None
    finished: bool
