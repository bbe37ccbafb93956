"""Finishing what a dead run staged: publish it (the job had decided to) or remove it (it had not).

A run's process can die anywhere: before its decision (its staged writes must go) or while publishing
(the rest must be published, since some destinations may show the new rows already). Both are done
from the names alone: every staged object carries its job's key, and publishing is idempotent (a
staging table is dropped in the transaction that publishes it, a temp file is renamed away), so this
may run again after dying itself.
"""

from __future__ import annotations

from typing import Any

from .context import Resolver, RunContext
from .errors import DataPlaneError
from .graph import plan_steps
from .policy import Policy
from .sinks import Prepared, Staged, discard
from .targets import Target, resolve_target


def _targets(steps: list[dict[str, Any]], resolve: Resolver, ctx: RunContext,
             policy: Policy) -> dict[str, Target | None]:
    targets: dict[str, Target | None] = {}
    for step in plan_steps(steps).order:
        if step["type"] != "data_sink":
            continue
        try:
            targets[step["id"]] = resolve_target(policy, step.get("config") or {}, step["id"], resolve.connection,
                                                 resolve.dataset)
        except DataPlaneError as exc:  # A sink that cannot be resolved never staged anything either.
            ctx.log("warning", step["id"], f"destination cannot be resolved: {exc}")
            targets[step["id"]] = None
    return targets


def settle_staged(steps: list[dict[str, Any]], resolve: Resolver, ctx: RunContext, policy: Policy, job: str,
                  publish: dict[str, str] | None) -> None:
    """Publish `publish` ({step id: staged name}) back to back, then remove every other object staged by `job`.

    `job` is a job's key prefix (`<job id hex>`): objects of any of its attempts are removed. Each sink is
    reported through `ctx.on_released` once it holds nothing staged any more.
    """
    targets = _targets(steps, resolve, ctx, policy)
    if publish:
        prepared = Prepared(policy)
        try:
            for step_id, name in publish.items():
                target = targets.get(step_id)
                if target is not None:
                    prepared.add(Staged(step_id, target, name))
        except BaseException:
            prepared.abort()
            raise
        prepared.commit(lambda step_id: ctx.log("info", step_id, "published what the earlier run staged"))
    for step_id, target in targets.items():
        if target is not None:
            removed = discard(policy, target, job)
            if removed:
                ctx.log("info", step_id, f"removed {len(removed)} staged object(s) beside {target.describe()}")
        ctx.on_released(step_id, bool(publish and step_id in publish))
