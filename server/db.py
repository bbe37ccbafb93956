"""Tortoise set-up and migrations: one app per domain, each with its own migrations."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tortoise import Tortoise
from tortoise.backends.base import executor as tortoise_executor
from tortoise.connection import get_connection
from tortoise.migrations.executor import MigrationExecutor

from server.point_reads import close_reader, open_reader

# One Tortoise app per domain keeps each domain's migrations independent.
APPS: dict[str, str] = {
    "core": "server.models.core",
    "datasets": "server.models.datasets",
    "engine": "server.models.engine",
    "access": "server.models.access",
    "quality": "server.models.quality",
}


def tortoise_config(database_url: str) -> dict[str, Any]:
    """The Tortoise configuration for a database URL."""
    return {
        "connections": {"default": database_url},
        "apps": {
            label: {
                "models": [module],
                "migrations": f"server.migrations.{label}",
                "default_connection": "default",
            }
            for label, module in APPS.items()
        },
        "use_tz": True,
        "timezone": "UTC",
    }


# Read by the `tortoise` command line (makemigrations) through `-c server.db.TORTOISE_ORM`.
TORTOISE_ORM = tortoise_config("sqlite://:memory:")


async def apply_migrations(config: dict[str, Any]) -> None:
    """Apply every pending migration on the initialised default connection."""
    executor = MigrationExecutor(get_connection("default"), config["apps"])
    await executor.migrate()


@asynccontextmanager
async def database(database_url: str, migrate: bool = True) -> AsyncIterator[None]:
    """Open the database (migrating it first) for the lifetime of the block."""
    config = tortoise_config(database_url)
    # Tortoise caches INSERT statements per connection *name*, not per dialect: a process that
    # opens SQLite and then PostgreSQL under "default" (the test suite) would reuse `?` markers.
    tortoise_executor.EXECUTOR_CACHE.clear()
    ctx = await Tortoise.init(config=config)
    client = None
    try:
        if migrate:
            await apply_migrations(config)
        # The per-request lookups get a connection of their own (server.point_reads).
        client = get_connection("default")
        open_reader(client)
        yield
    finally:
        if client is not None:
            await close_reader(client)
        await ctx.close_connections()
