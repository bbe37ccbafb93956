"""The engine of one process: the event relay, the job executor and the scheduler, opened and closed together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web

from server.config import Settings
from server.engine.dataplane import file_roots, set_file_roots
from server.engine.executor import Executor
from server.engine.pg_relay import relay_for
from server.engine.scheduler import Scheduler


@dataclass
class Engine:
    """What runs in the background of a server or worker process (parts off by settings are None)."""

    executor: Executor | None = None
    scheduler: Scheduler | None = None


ENGINE = web.AppKey("engine", Engine)


@asynccontextmanager
async def engine(settings: Settings, run_jobs: bool | None = None, run_schedules: bool | None = None
                 ) -> AsyncIterator[Engine]:
    """Start the engine on an open database for the lifetime of the block."""
    run_jobs = settings.run_jobs if run_jobs is None else run_jobs
    run_schedules = settings.run_schedules if run_schedules is None else run_schedules
    previous_roots = file_roots()
    set_file_roots(settings.file_roots)
    async with relay_for(settings.database_url):
        parts = Engine(Executor(settings) if run_jobs else None, Scheduler() if run_schedules else None)
        try:
            if parts.executor is not None:
                await parts.executor.start()
            if parts.scheduler is not None:
                await parts.scheduler.start()
            yield parts
        finally:
            if parts.scheduler is not None:
                await parts.scheduler.stop()
            if parts.executor is not None:
                await parts.executor.stop()
            set_file_roots(previous_roots)
