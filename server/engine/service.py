"""The engine of one process: the event relay, the job executor and the scheduler, opened and closed together."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web
from tortoise import connections

from server.config import Settings
from server.crypto.keys import secret_key_path
from server.engine.bus import EventBus
from server.engine.dataplane import PgIdentity, Policy, policy_from_settings, prepare_data_dir
from server.engine.dataplane.identity import DATABASE_SQL, SYSTEM_SQL, identity_from_rows
from server.engine.executor import Executor
from server.engine.pg_relay import relay_for
from server.engine.quality_runs import QualityRunner, Settled
from server.engine.quality_schedules import RuleScheduler
from server.engine.retention import Retention
from server.engine.scheduler import Scheduler, TickHandler

log = logging.getLogger("docc.engine")


@dataclass
class Engine:
    """What runs in the background of a server or worker process (parts off by settings are None)."""

    executor: Executor | None = None
    scheduler: Scheduler | None = None
    quality: QualityRunner | None = None
    quality_scheduler: RuleScheduler | None = None
    policy: Policy = field(default_factory=lambda: Policy(file_roots=()))
    bus: EventBus = field(default_factory=EventBus)
    retention: Retention | None = None


ENGINE = web.AppKey("engine", Engine)
# The app's own event bus: made in create_app, bound around each request, shared with its engine.
EVENT_BUS = web.AppKey("event_bus", EventBus)
# The data plane's confinement, for the handlers that validate datasets and pipelines at save time.
POLICY = web.AppKey("policy", Policy)


async def own_identity(database_url: str) -> PgIdentity | None:
    """What the server's own PostgreSQL reports about itself (None on SQLite), over the open database."""
    if not database_url.lower().startswith(("postgres://", "postgresql://")):
        return None
    conn = connections.get("default")
    _, rows = await conn.execute_query(DATABASE_SQL)
    try:
        _, system = await conn.execute_query(SYSTEM_SQL)
        system_id = system[0][0]
    except Exception:  # A role that may not read pg_control_system: PgIdentity compares the fallback.
        system_id = None
    return identity_from_rows(tuple(rows[0].values()), system_id)


async def build_policy(settings: Settings, extra_protected: Iterable[str] = ()) -> Policy:
    """The Policy of this process: creates the data folder, learns the own database's identity."""
    prepare_data_dir(settings)
    key_file = secret_key_path(settings)  # The data plane may never read the key that unseals the secrets.
    protected = (*extra_protected, *((str(key_file),) if key_file is not None else ()))
    return policy_from_settings(settings, identity=await own_identity(settings.database_url),
                                extra_protected=protected)


@asynccontextmanager
async def engine(settings: Settings, run_jobs: bool | None = None, run_schedules: bool | None = None,
                 on_tick: TickHandler | None = None, bus: EventBus | None = None,
                 on_quality_result: Settled | None = None,
                 on_rule_tick: TickHandler | None = None) -> AsyncIterator[Engine]:
    """Start the engine on an open database for the lifetime of the block.

    `on_tick` (what a schedule's tick does) comes from whoever assembles the process: the engine does
    not know the domain. It is needed only when schedules run here. `bus` is the app's (a new one without).
    `on_quality_result` (what a landed quality result changes) likewise; quality runs are claimed here with jobs.
    `on_rule_tick` (what a quality rule's schedule does) runs with the schedules.
    """
    run_jobs = settings.run_jobs if run_jobs is None else run_jobs
    run_schedules = settings.run_schedules if run_schedules is None else run_schedules
    if run_schedules and on_tick is None:
        raise ValueError("running schedules needs a tick handler (on_tick)")
    bus = bus if bus is not None else EventBus()
    policy = await build_policy(settings)
    async with relay_for(settings.database_url, bus):
        executor = Executor(settings, bus=bus, policy=policy, on_quality_result=on_quality_result) \
            if run_jobs else None
        scheduler = Scheduler(on_tick, bus) if on_tick is not None and run_schedules else None
        quality = QualityRunner(settings, executor.owner, bus, policy, on_quality_result) \
            if executor is not None and on_quality_result is not None else None
        rules = RuleScheduler(on_rule_tick, bus) if on_rule_tick is not None and run_schedules else None
        # Every process that runs jobs also removes old ones: purging is idempotent, so several may.
        retention = Retention(settings.job_retention_days, settings.job_retention_interval_seconds) \
            if executor is not None and settings.job_retention_days > 0 else None
        parts = Engine(executor, scheduler, quality, rules, policy, bus, retention)
        try:
            if parts.executor is not None:
                await parts.executor.start()
            if parts.quality is not None:
                await parts.quality.start()
            if parts.scheduler is not None:
                await parts.scheduler.start()
            if parts.quality_scheduler is not None:
                await parts.quality_scheduler.start()
            if parts.retention is not None:
                await parts.retention.start()
            yield parts
        finally:
            if parts.retention is not None:
                await parts.retention.stop()
            if parts.quality_scheduler is not None:
                await parts.quality_scheduler.stop()
            if parts.scheduler is not None:
                await parts.scheduler.stop()
            if parts.quality is not None:
                await parts.quality.stop()
            if parts.executor is not None:
                await parts.executor.stop()
