"""The executor: claims jobs from the database and runs up to N at once, in the server or in a worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket

from server.config import Settings
from server.engine import writers
from server.engine.admission import RunLimits, claim_next, next_attempt_due
from server.engine.bus import JOBS_TOPIC, EventBus, Subscription
from server.engine.child import Body
from server.engine.dataplane import Policy, policy_from_settings
from server.engine.forkserver import start_forkserver, stop_if_idle
from server.engine.journal import Journal, LeaseLost
from server.engine.leases import Claim, Expired, keep_claiming, utcnow
from server.engine.quality_runs import Settled
from server.engine.runner import JobRun
from server.engine.sweep import sweep
from server.models.engine import JobAttempt

log = logging.getLogger("docc.engine")

LOST_MESSAGE = "the process running this job stopped (its lease expired) and the job ran out of attempts"


def default_owner() -> str:
    """A name for this process in leases and logs: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


async def fail_expired(job_id: str, token: str | None, bus: EventBus | None = None) -> None:
    """Fail a job whose lease expired too often; a no-op when another process got there first."""
    journal = Journal(job_id, token, bus)
    try:
        await journal.update_job(status="failed", error=LOST_MESSAGE, finished_at=utcnow(),
                                 lease_expires_at=None)
    except LeaseLost:
        return
    await journal.close_open_steps("failed", LOST_MESSAGE)
    await JobAttempt.filter(job_id=job_id, status="running").update(status="failed", error=LOST_MESSAGE,
                                                                    finished_at=utcnow())
    await writers.release(job_id)
    await journal.log("error", None, f"job failed: {LOST_MESSAGE}")


class Executor:
    """Claims pending (or expired) jobs while it has room, woken by new jobs or every poll interval."""

    def __init__(self, settings: Settings, owner: str | None = None, bus: EventBus | None = None,
                 policy: Policy | None = None, child_body: Body | None = None,
                 on_quality_result: Settled | None = None) -> None:
        # The engine passes its app's bus; a tool or test without one gets a private bus (nobody else listens).
        self.settings, self.bus = settings, bus if bus is not None else EventBus()
        # The engine passes the policy it built (with the own database's identity); tools get one from settings.
        self.policy = policy or policy_from_settings(settings)
        self.owner = owner or default_owner()
        self.capacity = max(settings.max_concurrent_jobs, 1)
        self.limits = RunLimits(settings.max_running_jobs, settings.max_running_jobs_per_pipeline)
        # Tests only: what a job's process runs instead of the data plane (a crash, a hang, a leak).
        self.child_body = child_body
        # What the domain does once a saved rule's outcome in a quality_check step is stored as a result.
        self.on_quality_result = on_quality_result
        self.runs: dict[str, JobRun] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._background: list[asyncio.Task[None]] = []
        self._subscription: Subscription | None = None

    async def start(self) -> None:
        """Claim jobs in the background; start the job processes' forkserver now, or stop it when idle."""
        self._subscription = self.bus.subscribe(JOBS_TOPIC)
        self._background = [asyncio.create_task(self._loop()), asyncio.create_task(self._listen()),
                            asyncio.create_task(self._sweep_loop())]
        if self.settings.job_forkserver == "always":
            await asyncio.to_thread(start_forkserver)
        else:
            self._background.append(asyncio.create_task(self._forkserver_loop()))

    async def stop(self, grace_seconds: float | None = None) -> None:
        """Stop claiming; running jobs stop at their next batch (or are killed) and go back to the queue."""
        grace = self.settings.job_cancel_grace_seconds if grace_seconds is None else grace_seconds
        for task in self._background:
            task.cancel()
        for task in self._background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for run in self.runs.values():
            run.shutdown = True
            run.cancel.set()
        if self._tasks:
            await asyncio.wait(list(self._tasks.values()), timeout=grace)
        # Past the grace period no job process outlives the server: kill, then let each run settle.
        for run in self.runs.values():
            run.kill()
        if self._tasks:
            await asyncio.wait(list(self._tasks.values()), timeout=max(grace, 5.0))
        if self._subscription is not None:
            self._subscription.close()

    def cancel(self, job_id: str) -> bool:
        """Signal a job running here to stop; False when it does not run in this process."""
        run = self.runs.get(job_id)
        if run is None:
            return False
        run.cancel.set()
        return True

    async def _listen(self) -> None:
        assert self._subscription is not None
        while True:
            event = await self._subscription.get()
            if event is None or event.kind == "created":
                self._wake.set()
            elif event.kind == "cancel":
                self.cancel(str(event.data.get("job_id")))

    async def _loop(self) -> None:
        await keep_claiming(self.fill, self._wake, self.settings.job_poll_seconds, "jobs")

    async def _sweep_loop(self) -> None:
        # First at start (what a killed process of this machine left), then every few minutes at most.
        while True:
            try:
                await self.sweep()
            except Exception:
                log.exception("Sweeping leftovers failed")
            await asyncio.sleep(max(self.settings.staging_sweep_seconds, 1.0))

    async def _forkserver_loop(self) -> None:
        # The first job starts the forkserver; this stops it once no job process has used it for a while.
        idle = self.settings.job_forkserver_idle_seconds
        while True:
            await asyncio.sleep(min(max(idle / 4, 0.05), 30.0))
            try:
                if await asyncio.to_thread(stop_if_idle, idle):
                    log.info("Stopped the job forkserver after %g s without a job", idle)
            except Exception:
                log.exception("Stopping the idle job forkserver failed")

    async def sweep(self) -> int:
        """Finish or remove what ended jobs left behind; returns how many jobs were swept."""
        return await sweep(self.settings, self.policy, self.owner, self.bus)

    async def fill(self) -> int:
        """Claim and start jobs while there is room; returns how many were started."""
        count = 0
        while len(self.runs) < self.capacity:
            claim = await claim_next(self.owner, self.settings.job_lease_seconds, self.settings.job_max_attempts,
                                     self.limits, self.bus)
            if claim is None:
                return count
            if isinstance(claim, Expired):
                await fail_expired(claim.job.id, claim.job.lease_token, self.bus)
                continue
            self._start(claim)
            count += 1
        return count

    def _start(self, claim: Claim) -> None:
        job_id = claim.job.id
        run = JobRun(claim, self.owner, self.settings, self.policy, self.child_body, bus=self.bus,
                     on_quality_result=self.on_quality_result)
        self.runs[job_id] = run
        task = asyncio.create_task(run.run())
        self._tasks[job_id] = task

        def done(_task: asyncio.Task[None]) -> None:
            self.runs.pop(job_id, None)
            self._tasks.pop(job_id, None)
            self._wake.set()

        task.add_done_callback(done)

    async def drain(self) -> int:
        """Run claimable jobs until none is left (tests and one-shot tools); returns how many ran."""
        total = 0
        while True:
            looked_at = utcnow()
            started = await self.fill()
            if not started and not self._tasks:
                # A job waiting for its next attempt is claimable soon: wait for it rather than stop.
                due = await next_attempt_due()
                if due is None or due <= looked_at:  # none, or it was due and still held back by a limit
                    return total
                await asyncio.sleep(min(max((due - utcnow()).total_seconds(), 0.0), 60.0) + 0.01)
                continue
            total += started
            if self._tasks:
                await asyncio.wait(list(self._tasks.values()), return_when=asyncio.FIRST_COMPLETED)
