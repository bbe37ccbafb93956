"""Claiming jobs with a lease: any number of processes share one database and never run a job twice at once.

A claim is a conditional UPDATE (`... WHERE id = ? AND status IN ('pending', 'queued')`, see admission.py,
or for a takeover `AND lease_token = <the expired token>`) whose row count says who won; on PostgreSQL a
takeover's candidate is first locked with `SELECT ... FOR UPDATE SKIP LOCKED` so racing claimers pick
different jobs instead of queueing on the same row (SQLite ignores the lock and relies on the conditional
update alone).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from server.models.engine import Job, StagedWrite

log = logging.getLogger("docc.engine")

CANDIDATES = 5


def utcnow() -> datetime:
    return datetime.now(UTC)


async def keep_claiming(fill: Callable[[], Awaitable[object]], wake: asyncio.Event, poll_seconds: float,
                        what: str) -> None:
    """Claim with `fill` until cancelled: at once when `wake` is set, else every `poll_seconds`; a failed
    round is logged (`Claiming <what> failed`) and the next one tries again."""
    while True:
        wake.clear()
        try:
            await fill()
        except Exception:
            log.exception("Claiming %s failed", what)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), poll_seconds)


@dataclass(frozen=True)
class Claim:
    """A job this process now holds, with the token that proves it, and whether it took it over."""

    job: Job
    token: str
    takeover: bool = False


@dataclass(frozen=True)
class Expired:
    """A running job whose lease ran out: taken over by `claim`, or to be failed when out of attempts."""

    job: Job


async def claim_expired(owner: str, lease: timedelta, max_attempts: int) -> Claim | Expired | None:
    for _ in range(CANDIDATES):
        async with in_transaction() as conn:
            row = await (Job.filter(status="running", lease_expires_at__lt=utcnow()).order_by("lease_expires_at")
                         .limit(1).select_for_update(skip_locked=True).using_db(conn).first())
            if row is None:
                return None
            # A job whose process died while publishing is finished by its next run whatever its attempts:
            # failing it would leave destinations half published.
            publishing = await StagedWrite.filter(job_id=row.id, state="publishing").using_db(conn).exists()
            if row.attempts >= max_attempts and not publishing:
                return Expired(row)
            now, token = utcnow(), secrets.token_hex(10)
            won = await Job.filter(id=row.id, status="running", lease_token=row.lease_token).using_db(conn).update(
                lease_owner=owner, lease_token=token, lease_expires_at=now + lease,
                attempts=F("attempts") + 1, updated_at=now)
            if won >= 1:  # SQLite counts the feed triggers' rows too (engine migration 0003).
                return Claim(await Job.get(id=row.id).using_db(conn), token, takeover=True)
    return None


async def renew(job_id: str, token: str, lease_seconds: float) -> bool:
    """Extend the lease; False when another process holds the job now (the lease was lost)."""
    now = utcnow()
    renewed = await Job.filter(id=job_id, lease_token=token, status="running").update(
        lease_expires_at=now + timedelta(seconds=lease_seconds))
    return renewed >= 1


async def release(job_id: str, token: str) -> bool:
    """Give a running job back to the queue (this process is stopping); False when no longer held."""
    released = await Job.filter(id=job_id, lease_token=token, status="running").update(
        status="pending", lease_owner=None, lease_token=None, lease_expires_at=None, started_at=None,
        attempts=F("attempts") - 1, updated_at=utcnow())
    return released >= 1
