"""Which waiting job runs next: running-job limits and each pipeline's concurrency policy, applied in order.

Waiting jobs (`pending` or `queued`, due) are read oldest first inside one transaction; a lock taken first
(on PostgreSQL a transaction-scoped advisory lock, on SQLite the database's write lock) makes every claimer
decide one after the other, so two processes never both take the last slot. A job that may not start yet is
marked `queued` with the reason; a `skip` job that finds its pipeline active ends `skipped`. The first job
that may start is claimed.
"""

from __future__ import annotations

import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from server.engine.bus import EventBus
from server.engine.journal import Journal
from server.engine.leases import Claim, Expired, claim_expired, utcnow
from server.models.engine import Job

WAITING = ("pending", "queued")
BATCH = 100
# Any constant: the key of the advisory lock every claimer of the cluster takes while it decides.
_LOCK_KEY = 0x646F6363


@dataclass(frozen=True)
class RunLimits:
    """Cluster-wide limits on running jobs; 0 is no limit."""

    max_running: int = 0
    max_running_per_pipeline: int = 0


def policy_of(job: Job) -> str:
    return (job.controls or {}).get("concurrency") or "queue"


async def _serialize(conn: BaseDBAsyncClient) -> None:
    """Make the deciding transaction the only one of the database: other claimers wait until it ends."""
    if conn.capabilities.dialect == "postgres":
        await conn.execute_query(f"SELECT pg_advisory_xact_lock({_LOCK_KEY})")
    else:
        # A write that changes nothing still takes SQLite's write lock for the rest of the transaction
        # (a process that holds it is waited for, up to the busy timeout), and the reads that follow see
        # the latest commit.
        await conn.execute_query("UPDATE jobs SET id = id WHERE 0")


@dataclass
class _Decisions:
    queued: list[tuple[str, str]]
    skipped: list[tuple[str, str]]


def _blocked(job: Job, total: int, per_pipeline: Counter[str], busy: dict[str, str],
             limits: RunLimits) -> str | None:
    """Why `job` may not start now (None: it may)."""
    pipeline = job.pipeline_id  # type: ignore[attr-defined]
    if limits.max_running and total >= limits.max_running:
        return f"waiting for a slot: at most {limits.max_running} jobs run at once"
    if limits.max_running_per_pipeline and per_pipeline[pipeline] >= limits.max_running_per_pipeline:
        return f"waiting for a slot: at most {limits.max_running_per_pipeline} jobs of this pipeline run at once"
    if policy_of(job) != "allow" and pipeline in busy:
        return f"waiting for {busy[pipeline]} of this pipeline to finish (concurrency: {policy_of(job)})"
    return None


async def _decide(owner: str, lease: timedelta, limits: RunLimits, decisions: _Decisions) -> Claim | None:
    async with in_transaction() as conn:
        await _serialize(conn)
        now = utcnow()
        due = (Job.filter(status__in=WAITING, cancel_requested=False).filter(Q(run_after=None) | Q(run_after__lte=now))
               .order_by("created_at", "id"))
        rows = await due.limit(BATCH).using_db(conn)
        if not rows:
            return None
        running = await Job.filter(status="running").using_db(conn).values_list("id", "pipeline_id")
        per_pipeline = Counter(pipeline for _, pipeline in running)
        # A pipeline is busy while a job of it runs, waits for a retry, or waits ahead in this pass.
        busy = {pipeline: job_id for job_id, pipeline in running}
        for job_id, pipeline in await Job.filter(status__in=WAITING, run_after__gt=now).using_db(conn).values_list(
                "id", "pipeline_id"):
            busy.setdefault(pipeline, job_id)
        offset = 0
        while rows:
            claim = await _first_startable(conn, rows, owner, lease, limits, running, per_pipeline, busy, decisions)
            if claim is not None or (limits.max_running and len(running) >= limits.max_running):
                return claim
            # Every job of this batch waits: look further, so a long queue of one pipeline never hides
            # a job of another that may start.
            offset += BATCH
            rows = await due.offset(offset).limit(BATCH).using_db(conn)
        return None


async def _first_startable(conn: BaseDBAsyncClient, rows: list[Job], owner: str, lease: timedelta,
                           limits: RunLimits, running: list[tuple[str, str]], per_pipeline: Counter[str],
                           busy: dict[str, str], decisions: _Decisions) -> Claim | None:
    now = utcnow()
    for row in rows:
        pipeline = row.pipeline_id  # type: ignore[attr-defined]
        if policy_of(row) == "skip" and row.attempts == 0 and pipeline in busy:
            reason = f"skipped: {busy[pipeline]} of this pipeline is active (concurrency: skip)"
            if await Job.filter(id=row.id, status__in=WAITING).using_db(conn).update(
                    status="skipped", error=reason, finished_at=now, updated_at=now) >= 1:
                decisions.skipped.append((row.id, reason))
            continue
        reason = _blocked(row, len(running), per_pipeline, busy, limits)
        if reason is not None:
            busy.setdefault(pipeline, row.id)
            if row.status == "pending" or row.waiting_for != reason:
                await Job.filter(id=row.id, status__in=WAITING).using_db(conn).update(
                    status="queued", waiting_for=reason, updated_at=now)
                decisions.queued.append((row.id, reason))
            continue
        token = secrets.token_hex(10)
        won = await Job.filter(id=row.id, status__in=WAITING, cancel_requested=False).using_db(conn).update(
            status="running", lease_owner=owner, lease_token=token, lease_expires_at=now + lease,
            started_at=row.started_at or now, attempts=F("attempts") + 1, waiting_for=None, run_after=None,
            updated_at=now)
        if won >= 1:  # SQLite counts the feed triggers' rows too (engine migration 0003).
            return Claim(await Job.get(id=row.id).using_db(conn), token)
    return None


async def _announce(decisions: _Decisions, bus: EventBus | None) -> None:
    # After the transaction: SQLite has one connection, and the journal writes through it.
    for job_id, reason in decisions.queued:
        journal = Journal(job_id, None, bus)
        await journal.log("info", None, reason)
        await journal.update_job()
    for job_id, reason in decisions.skipped:
        journal = Journal(job_id, None, bus)
        await journal.close_open_steps("skipped", None)
        await journal.log("warning", None, reason)
        await journal.update_job()


async def claim_waiting(owner: str, lease_seconds: float, limits: RunLimits,
                        bus: EventBus | None = None) -> Claim | None:
    """The oldest waiting job that may start now, claimed for `owner`; others are queued or skipped."""
    decisions = _Decisions([], [])
    try:
        return await _decide(owner, timedelta(seconds=lease_seconds), limits, decisions)
    finally:
        await _announce(decisions, bus)


async def claim_next(owner: str, lease_seconds: float, max_attempts: int, limits: RunLimits | None = None,
                     bus: EventBus | None = None) -> Claim | Expired | None:
    """The next job for `owner`: a waiting one that may start first, else one whose lease expired."""
    return (await claim_waiting(owner, lease_seconds, limits or RunLimits(), bus)
            or await claim_expired(owner, timedelta(seconds=lease_seconds), max_attempts))


async def next_attempt_due() -> datetime | None:
    """When the earliest job waiting for its next attempt may start (None: no job waits for one)."""
    row = await Job.filter(status__in=WAITING, cancel_requested=False, run_after__not_isnull=True).order_by(
        "run_after").first()
    return row.run_after if row is not None else None
