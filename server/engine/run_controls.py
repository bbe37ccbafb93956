"""A running job under its pipeline's run controls: its attempts and retries with backoff, its timeout, and its
wait for the writers of its destinations (one writer per destination at a time)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

from server.engine import writers
from server.engine.child import JobPlan
from server.engine.journal import Journal, LeaseLost, reset_steps
from server.engine.leases import renew, utcnow
from server.models.engine import JobAttempt


class RunControls:
    """The run controls as they were when the job was made, and where this run of the job stands under them."""

    def __init__(self, journal: Journal, controls: Mapping[str, Any] | None) -> None:
        self.journal, self.job_id = journal, journal.job_id
        self.controls: dict[str, Any] = dict(controls or {})
        self.timeout: float | None = self.controls.get("timeout_s")
        self.deadline: float | None = None
        self.timed_out = False
        self.attempt: int | None = None

    def of_attempts(self) -> str:
        """` of N` when the retry policy allows more than one attempt, else nothing."""
        count = int((self.controls.get("retries") or {}).get("count") or 0)
        return f" of {count + 1}" if count else ""

    async def begin(self) -> int:
        """Start this run's attempt (a takeover continues the attempt it took over) and its timeout's clock;
        returns the attempt's number."""
        last = await JobAttempt.filter(job_id=self.job_id).order_by("-number").first()
        if last is not None and last.status == "running":
            self.attempt = last.number
        else:
            self.attempt = (last.number if last is not None else 0) + 1
            await JobAttempt.create(job_id=self.job_id, number=self.attempt, status="running", started_at=utcnow())
        if self.timeout is not None:
            self.deadline = asyncio.get_running_loop().time() + self.timeout
        return self.attempt

    def time_is_up(self) -> bool:
        """True (and the run marked timed out) once the job is past its timeout."""
        if self.deadline is not None and asyncio.get_running_loop().time() >= self.deadline:
            self.timed_out = True
        return self.timed_out

    async def outcome(self, outcome: str, error: str | None,
                      cancel_requested: Callable[[], Awaitable[bool]]) -> tuple[str, str | None]:
        """How the attempt ended: a cancel that the timeout caused (not a user) is `timed_out`."""
        if outcome == "cancelled" and self.timed_out and not await cancel_requested():
            return "timed_out", f"timed out after {self.timeout:g} s"
        return outcome, error

    async def end_attempt(self, outcome: str, error: str | None) -> None:
        await JobAttempt.filter(job_id=self.job_id, status="running").update(
            status=outcome, error=error, finished_at=utcnow())

    def retry_delay(self, outcome: str, stopping: bool) -> float | None:
        """Seconds before the next attempt, or None when the job ends here (also when this process lost the
        job or is `stopping`)."""
        if outcome not in ("failed", "timed_out") or stopping or self.attempt is None:
            return None
        retries = self.controls.get("retries") or {}
        if self.attempt > int(retries.get("count") or 0):
            return None
        delay = float(retries.get("delay") or 0) * float(retries.get("backoff") or 1) ** (self.attempt - 1)
        cap = retries.get("max_delay")
        return min(delay, float(cap)) if cap is not None else delay

    async def retry(self, outcome: str, error: str | None, delay: float) -> None:
        """Give the job back to the queue for its next attempt, due after `delay` seconds."""
        assert self.attempt is not None
        await self.journal.close_open_steps("failed" if outcome == "failed" else "cancelled", error)
        what = "failed" if outcome == "failed" else "timed out"
        await self.journal.log("warning", None, f"attempt {self.attempt} {what}: {error}; retrying in {delay:g} s "
                                                f"(attempt {self.attempt + 1}{self.of_attempts()})")
        await self.journal.update_job(status="pending", error=error, progress=0.0, lease_owner=None,
                                      lease_token=None, lease_expires_at=None,
                                      run_after=utcnow() + timedelta(seconds=delay))
        await reset_steps(self.job_id)

    async def wait_for_writers(self, plan: JobPlan, token: str, lease_seconds: float, poll_seconds: float,
                               cancelled: Callable[[], Awaitable[bool]]) -> bool:
        """Hold every destination of the job, waiting while another job writes one; False when the job
        was cancelled or timed out meanwhile. Raises LeaseLost."""
        keys = writers.destinations(plan)
        if not keys:
            return True
        waited: tuple[str, str] | None = None
        # Short: the wait ends soon after the writer lets go (a look is a read of a few rows by key).
        tick = min(poll_seconds, 0.1)
        loop = asyncio.get_running_loop()
        renewed = loop.time()
        while (blocked := await writers.acquire(self.job_id, keys, lease_seconds)) is not None:
            if blocked != waited:
                waited = blocked
                text = f"waiting for the writer of {blocked[0]} ({blocked[1]})"
                await self.journal.log("info", None, text)
                await self.journal.update_job("progress", waiting_for=text)
            if loop.time() - renewed >= lease_seconds / 3:
                renewed = loop.time()
                if not await renew(self.job_id, token, lease_seconds):
                    raise LeaseLost(self.job_id)
                await writers.renew(self.job_id, lease_seconds)
            if await cancelled() or self.time_is_up():
                return False
            await asyncio.sleep(tick)
        if waited is not None:
            await self.journal.log("info", None, f"the writer of {waited[0]} is done; writing now")
            await self.journal.update_job("progress", waiting_for=None)
        return True
