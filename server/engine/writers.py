"""One writer per destination: a lease row per destination in the server's database, held by one job at a time.

A destination is keyed by its normalized form (a file's real path; a database's file or host, port and
database, with the table in lower case), hashed so no secret is stored. A job takes the rows of all its
destinations in key order before its process starts (so two jobs never wait on each other in a cycle),
renews them with its job lease and deletes them when it settles. A row whose lease expired, or whose job
no longer runs, is taken over: a killed process holds a destination for one lease length at most, unless
it died while publishing. Then its rows stay until its plan is finished (published back to back by the
job's own recovery or by the sweep), so that no later job writes between its swaps.
"""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta
from typing import Any

from tortoise.exceptions import IntegrityError

from server.engine.child import JobPlan
from server.engine.dataplane import MappingResolver
from server.engine.dataplane.connections import parse_connection, split_table
from server.engine.dataplane.targets import Target, resolve_target
from server.engine.leases import utcnow
from server.models.engine import DestinationLease, Job, StagedWrite


def normalized(target: Target) -> str:
    """The same string for every spelling of one destination."""
    if target.kind == "file":
        return "file:" + os.path.realpath(target.path or "")
    conn = parse_connection(target.url or "")
    schema, table = split_table(target.table or "", dialect=conn.dialect, field="destination")
    if conn.dialect == "sqlite":
        return f"sqlite:{os.path.realpath(conn.path or '')}:{table.lower()}"
    return f"postgresql:{(conn.host or '').lower()}:{conn.port}/{conn.database}:{(schema or 'public').lower()}." \
           f"{table.lower()}"


def destinations(plan: JobPlan) -> dict[str, str]:
    """The destinations of the job's sinks: hashed key -> a label without secrets.

    A sink whose destination cannot be resolved is left out: the run fails on it with its own error.
    """
    resolver = MappingResolver(dict(plan.datasets), dict(plan.connections))
    found: dict[str, str] = {}
    for step in plan.steps:
        if not isinstance(step, dict) or step.get("type") != "data_sink":
            continue
        config: dict[str, Any] = step.get("config") or {}
        try:
            target = resolve_target(plan.policy, config, step.get("id", ""), resolver.connection, resolver.dataset)
            key = hashlib.sha256(normalized(target).encode()).hexdigest()
        except Exception:
            continue
        found[key] = target.describe()
    return found


async def _take(key: str, label: str, job_id: str, lease: timedelta) -> str | None:
    """Hold one destination; None when held now, else the id of the job holding it."""
    for _ in range(3):
        now = utcnow()
        values = {"job_id": job_id, "destination": label, "expires_at": now + lease, "acquired_at": now}
        row = await DestinationLease.get_or_none(key=key)
        if row is None:
            try:
                await DestinationLease.create(key=key, **values)
                return None
            except IntegrityError:
                continue
        if row.job_id != job_id:
            if await _publishing(row.job_id):
                return row.job_id  # Its decided writes are not all visible yet: they must land first.
            # A holder whose lease expired, or that no longer runs (it settled without letting go, or waits
            # for a retry), holds nothing.
            if row.expires_at >= now and await Job.filter(id=row.job_id, status="running").exists():
                return row.job_id
        if await DestinationLease.filter(key=key, job_id=row.job_id).update(**values) >= 1:
            return None
    return None if await DestinationLease.filter(key=key, job_id=job_id).exists() else "another job"


async def acquire(job_id: str, keys: dict[str, str], lease_seconds: float) -> tuple[str, str] | None:
    """Hold every destination of the job, in key order; None when all are held, else the first
    destination another job holds, as (label, holder job id). What was taken so far stays held."""
    lease = timedelta(seconds=lease_seconds)
    for key in sorted(keys):
        holder = await _take(key, keys[key], job_id, lease)
        if holder is not None:
            return keys[key], holder
    return None


async def renew(job_id: str, lease_seconds: float) -> None:
    """Keep the job's destinations as long as its lease."""
    await DestinationLease.filter(job_id=job_id).update(expires_at=utcnow() + timedelta(seconds=lease_seconds))


async def release(job_id: str) -> bool:
    """The job writes nowhere any more; False (its destinations stay held) while it has decided writes left.

    A job whose process died while publishing keeps its destinations until the run that finishes its plan
    (its own recovery, or the sweep) has published the rest: a later job must not write first and then see
    older rows land on top of its own.
    """
    if await _publishing(job_id):
        return False
    await DestinationLease.filter(job_id=job_id).delete()
    return True


async def _publishing(job_id: str) -> bool:
    return await StagedWrite.filter(job_id=job_id, state="publishing").exists()
