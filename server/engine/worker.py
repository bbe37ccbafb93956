"""`docc-server worker`: a process that only runs jobs, claimed from the shared database with a lease."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from server.config import Settings
from server.crypto.stored import secrets_at_rest
from server.db import database
from server.engine.quality_runs import Settled
from server.engine.service import engine

log = logging.getLogger("docc.worker")


async def run_worker(settings: Settings, stop: asyncio.Event | None = None,
                     on_quality_result: Settled | None = None) -> None:
    """Run jobs (and quality runs, given what a landed result changes) until `stop` is set (by SIGINT/SIGTERM
    when not given); running jobs go back to the queue."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    # The server migrates; a worker never changes the schema, so many can start at once.
    async with database(settings.database_url, migrate=False), secrets_at_rest(settings, seal_plaintext=False), \
            engine(settings, run_jobs=True, run_schedules=False, on_quality_result=on_quality_result) as parts:
        assert parts.executor is not None
        log.info("Worker %s running up to %s jobs at once", parts.executor.owner, parts.executor.capacity)
        await stop.wait()
        log.info("Worker stopping")
