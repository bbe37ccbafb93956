"""The plan of a job's staged writes, kept in the server's database, and what finishes a plan left behind.

A job's process stages every sink beside its destination, under names that carry the job's key
(`<job id hex>_<attempt>`). Before the process starts, one `StagedWrite` row per sink is stored
(`staging`): whatever the process leaves, the server knows where to look. When every step has
succeeded the process reports what it staged; one UPDATE switches all the job's rows to `publishing`
(that is the decision), and only then is the process told to publish. Each row goes once its write
is published or removed. Rows left over after the process ended are finished here, in a new job
process: `publishing` rows are published (the decision was taken), `staging` ones removed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import timedelta
from typing import Any

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from server.engine.child import JobPlan
from server.engine.journal import Journal
from server.engine.leases import utcnow
from server.engine.sandbox import ChildRun, Limits, Outcome
from server.models.engine import FINISHED, Job, StagedWrite

log = logging.getLogger("docc.engine")

CLAIM = timedelta(minutes=5)


def job_key(job: Job) -> str:
    """The key of the job's current attempt, carried by every name it stages."""
    return f"{job_hex(job.id)}_{job.attempts}"


def job_hex(job_id: str) -> str:
    """The part of a job id that names its staged objects (any attempt)."""
    return job_id.split("_", 1)[-1].lower()


def sink_ids(steps: list[dict[str, Any]]) -> list[str]:
    """The ids of the job's data_sink steps."""
    return [s["id"] for s in steps if isinstance(s, dict) and s.get("type") == "data_sink" and "id" in s]


async def register(job: Job, key: str) -> None:
    """Record the job's sinks before its process starts, so nothing it stages can go unnoticed."""
    await StagedWrite.bulk_create([StagedWrite(job_id=job.id, step_id=sid, key=key) for sid in sink_ids(job.steps)])


def named_for(record: dict[str, str], key: str) -> bool:
    """Whether a reported staged name is one this attempt may have made (the recovery will act on it)."""
    name = record["name"]
    if "/" in name or "\\" in name or "\0" in name:
        return False
    if record["kind"] == "table":
        return name.startswith(f"_docc_staging_{key}_")
    return name.startswith(".") and f".docc_{key}_" in name and name.endswith(".tmp")


async def decide(job_id: str, key: str, records: list[dict[str, str]]) -> bool:
    """Record what was staged and switch every row of the attempt to `publishing`, in one transaction.

    False (nothing decided) when a reported name is not one of this attempt's staged names.
    """
    if not all(named_for(record, key) for record in records):
        log.warning("Job %s reported a staged write it cannot have made; discarding", job_id,
                    extra={"job_id": job_id})
        return False
    async with in_transaction() as conn:
        for record in records:
            await StagedWrite.filter(job_id=job_id, key=key, step_id=record["step"]).using_db(conn).update(
                name=record["name"])
        total = await StagedWrite.filter(job_id=job_id, key=key).using_db(conn).count()
        switched = await StagedWrite.filter(job_id=job_id, key=key, state="staging").using_db(conn).update(
            state="publishing")
        return switched == total == len(records)


async def released(job_id: str, step_id: str) -> None:
    """A sink holds nothing staged any more."""
    await StagedWrite.filter(job_id=job_id, step_id=step_id).delete()


async def leftovers(job_id: str) -> list[StagedWrite]:
    """The rows a job's earlier process left."""
    return await StagedWrite.filter(job_id=job_id).order_by("id")


async def finish(plan: JobPlan, rows: list[StagedWrite], limits: Limits, journal: Journal) -> Outcome:
    """Publish (`publishing` rows) or remove (the rest) what an ended process of the job left, in a job process.

    `plan` is the job's run plan: its steps say where each sink writes. Lines go to the job's log.
    """
    publish = [{"step": r.step_id, "name": r.name or ""} for r in rows if r.state == "publishing" and r.name]
    recovery = JobPlan(job_id=plan.job_id, steps=plan.steps, datasets=plan.datasets, connections=plan.connections,
                       policy=plan.policy, memory_mb=plan.memory_mb, temp_dir=plan.temp_dir,
                       job_key=job_hex(plan.job_id), action="publish" if publish else "discard", staged=publish)
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[Any, ...] | None] = asyncio.Queue()

    def put(*item: Any) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, item)

    async def write() -> None:
        while (item := await queue.get()) is not None:
            if item[0] == "log":
                await journal.log(item[1], item[2], item[3])
            elif item[0] == "released":
                await released(plan.job_id, item[1])

    writer = asyncio.create_task(write())
    try:
        return await ChildRun(recovery, limits, put, threading.Event()).run()
    finally:
        queue.put_nowait(None)
        await writer


async def claim_abandoned(owner: str) -> list[str]:
    """Jobs that ended with rows left (their process died, or finishing failed), claimed for a sweep."""
    now = utcnow()
    jobs = await StagedWrite.filter(job__status__in=FINISHED).filter(
        Q(claimed_until=None) | Q(claimed_until__lt=now)).distinct().values_list("job_id", flat=True)
    claimed = []
    for job_id in jobs:
        won = await StagedWrite.filter(job_id=job_id).filter(Q(claimed_until=None) | Q(claimed_until__lt=now)).update(
            claimed_until=now + CLAIM)
        if won and won == await StagedWrite.filter(job_id=job_id).count():
            claimed.append(job_id)
    log.debug("Sweep by %s claimed %s job(s)", owner, len(claimed))
    return claimed
