"""A job's journal: every log line, step change and status change is stored first, then published."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.functions import Max

from server.engine.bus import JOB_FEED_TOPIC, Event, EventBus, bound_bus, job_topic
from server.engine.dataplane.masking import mask_secrets
from server.engine.leases import utcnow
from server.models.engine import FINISHED, Job, JobLog, JobStep

# Log levels by rank: a journal stores the lines at or above its `min_level`.
LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}


class LeaseLost(Exception):
    """Another process holds the job now; this one must stop writing to it."""


def log_event(row: JobLog, job_id: str) -> Event:
    """The bus event of a stored log line."""
    return Event(job_topic(job_id), "log", {
        "job_id": job_id, "seq": row.seq, "time": row.time.isoformat(), "level": row.level,
        "step_id": row.step_id, "message": row.message})


def status_event(job: Job, kind: str = "status") -> Event:
    """The bus event of a job's state (`status` on a change of status, `progress` otherwise)."""
    return Event(job_topic(job.id), kind, {"job_id": job.id, "status": job.status, "progress": job.progress,
                                           "finished": job.status in FINISHED})


class Journal:
    """Writes of one job, in order; with a lease token, job updates only land while the lease is held."""

    def __init__(self, job_id: str, token: str | None = None, bus: EventBus | None = None) -> None:
        # The executor passes its engine's bus; the domain (cancelling a job in a request) the bound one.
        self.job_id, self.token, self.bus = job_id, token, bus if bus is not None else bound_bus()
        self.seq: int | None = None
        # The job's log level as a rank (a job run sets it: the pipeline's level, else DOCC_JOB_LOG_LEVEL).
        self.min_level = 0

    async def _publish(self, event: Event) -> None:
        # Without a bus (a tool or test writing the journal directly) nobody here listens; the row is stored.
        if self.bus is not None:
            await self.bus.publish(event)
            if event.kind != "log":
                # The triggers stored a feed entry with the change; wake this process's feed readers (on
                # PostgreSQL the trigger's own notice wakes every process, at commit).
                self.bus.deliver_local(Event(JOB_FEED_TOPIC, event.kind, {"job_id": self.job_id}))

    async def _next_seq(self) -> int:
        if self.seq is None:
            found = await JobLog.filter(job_id=self.job_id).annotate(top=Max("seq")).first().values("top")
            self.seq = (found or {}).get("top") or 0
        self.seq += 1
        return self.seq

    async def log(self, level: str, step_id: str | None, message: str, at: datetime | None = None) -> None:
        """Store a log line with the next sequence number, then publish it (unless below `min_level`)."""
        if LEVELS.get(level, LEVELS["error"]) < self.min_level:
            return
        # Masked before it is stored: the REST log, the websocket frames and replays all read this row.
        for tries in range(1, 6):
            try:
                row = await JobLog.create(job_id=self.job_id, seq=await self._next_seq(), time=at or utcnow(),
                                          level=level, step_id=step_id, message=mask_secrets(message))
                break
            except IntegrityError:
                # Another writer of this job (a cancel, the admission of a queued job) took the number.
                self.seq = None
                if tries == 5:
                    raise
        await self._publish(log_event(row, self.job_id))

    async def update_job(self, kind: str = "status", **values: Any) -> Job:
        """Change the job row and publish its state; raises LeaseLost when the lease is gone."""
        if isinstance(values.get("error"), str):
            values["error"] = mask_secrets(values["error"])
        query = Job.filter(id=self.job_id)
        if self.token is not None:
            query = query.filter(lease_token=self.token)
        # At least one: on SQLite the count includes the rows the job feed triggers wrote (engine migration 0003).
        if await query.update(**values, updated_at=utcnow()) < 1:
            raise LeaseLost(self.job_id)
        job = await Job.get(id=self.job_id)
        await self._publish(status_event(job, kind))
        return job

    async def step(self, step_id: str, **values: Any) -> None:
        """Change one step's record and publish that the job changed."""
        if isinstance(values.get("error"), str):
            values["error"] = mask_secrets(values["error"])
        await JobStep.filter(job_id=self.job_id, step_id=step_id).update(**values)
        await self._publish(Event(job_topic(self.job_id), "step", {"job_id": self.job_id, "step_id": step_id,
                                                                      "status": values.get("status")}))

    async def close_open_steps(self, status: str, error: str | None) -> None:
        """Settle steps that never ended: `pending` ones become skipped, `running` ones `status`."""
        now = utcnow()
        error = mask_secrets(error) if error is not None else None
        await JobStep.filter(job_id=self.job_id, status="running").update(status=status, error=error,
                                                                          finished_at=now)
        await JobStep.filter(job_id=self.job_id, status="pending").update(status="skipped")


def step_rows(job_id: str, steps: list[dict[str, Any]], skipped: set[str]) -> list[JobStep]:
    """The step records of a new job: one per step of its version, `skipped` for those it will not run."""
    return [JobStep(job_id=job_id, position=i, step_id=step["id"], type=step["type"],
                    status="skipped" if step["id"] in skipped else "pending") for i, step in enumerate(steps)]


async def reset_steps(job_id: str) -> None:
    """Make every step the job runs pending again (a job taken over starts afresh)."""
    await JobStep.filter(job_id=job_id).exclude(status="skipped").update(
        status="pending", rows_in=None, rows_out=None, duration_s=None, error=None, started_at=None,
        finished_at=None)
