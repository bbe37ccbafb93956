"""The sweep: what killed processes left behind, found and removed (or finished) within minutes.

Two kinds of leftovers: staged writes of jobs that ended without finishing them (their rows in
`job_staged_writes` say where to look, and whether to publish or remove), and the private temp
folders of job runs (`docc-job-<job id>-*`, spills and stderr). A job that is still running is never
touched: staged rows are claimed only for ended jobs, and a folder is removed only when its job is
one of this database's and not running.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile

from server.config import Settings
from server.engine import staging, writers
from server.engine.bus import EventBus
from server.engine.dataplane import Policy
from server.engine.journal import Journal
from server.engine.runner import TEMP_PREFIX, build_plan, job_temp_dir
from server.engine.sandbox import Limits
from server.models.engine import Job

log = logging.getLogger("docc.engine")


async def sweep(settings: Settings, policy: Policy, owner: str, bus: EventBus | None = None) -> int:
    """Finish the staged writes ended jobs left, and remove temp folders of jobs not running; returns jobs swept."""
    limits = Limits(settings.job_memory_mb, settings.job_timeout_seconds, settings.job_cancel_grace_seconds)
    swept = 0
    for job_id in await staging.claim_abandoned(owner):
        job = await Job.get(id=job_id)
        temp_dir = job_temp_dir(job_id)
        try:
            plan = await build_plan(job, settings.connections, policy, limits.memory_mb, temp_dir)
            rows = await staging.leftovers(job_id)
            journal = Journal(job_id, None, bus)
            await journal.log("info", None, f"sweep by {owner}: finishing {len(rows)} staged write(s) left behind")
            outcome = await staging.finish(plan, rows, limits, journal)
            if outcome.status != "succeeded":
                await journal.log("warning", None, f"sweep by {owner} did not finish: {outcome.error}")
            await writers.release(job_id)  # Held while its decided writes were not all published.
            swept += 1
        except Exception:
            log.exception("Sweeping job %s failed", job_id, extra={"job_id": job_id})
        finally:
            shutil.rmtree(temp_dir, ignore_errors=True)
    await remove_temp_folders()
    return swept


async def remove_temp_folders(directory: str | None = None) -> list[str]:
    """Remove the temp folders of runs of this database's jobs that are not running any more; returns them."""
    directory = directory or tempfile.gettempdir()
    try:
        names = [n for n in os.listdir(directory) if n.startswith(TEMP_PREFIX)]
    except OSError:
        return []
    by_job: dict[str, list[str]] = {}
    for name in names:
        job_id = name[len(TEMP_PREFIX):].rsplit("-", 1)[0]
        by_job.setdefault(job_id, []).append(name)
    # Only jobs of this database that ended: another server on the machine may use another database.
    ended = set(await Job.filter(id__in=list(by_job)).exclude(status="running").values_list("id", flat=True))
    removed = []
    for job_id, folders in by_job.items():
        if job_id not in ended:
            continue
        for name in folders:
            shutil.rmtree(os.path.join(directory, name), ignore_errors=True)
            removed.append(name)
    return removed
