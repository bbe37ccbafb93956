"""The number that changes whenever anything a cached GraphQL read may show changes in a workspace."""

from __future__ import annotations

from resolvers.principal import Principal
from server.models.base import select_one
from server.models.datasets import ReadGeneration


async def read_generation(principal: Principal) -> int:
    """The workspace's read generation: bumped by database triggers (datasets migration 0005) on every write
    to datasets, schema versions, tags, pipelines, pipeline versions and schedules, quality rules and
    results, and profiles; 0 before the first. One plain statement: it is read on every cached request."""
    row = await select_one(ReadGeneration, ("generation",), "workspace_id", principal.workspace_id)
    return int(row["generation"]) if row else 0
