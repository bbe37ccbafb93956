"""What runs inside a quality run's process: the checks, the profile. Kept light (the data plane only, no
ORM or settings) and imported by the forkserver, so a run's process starts in milliseconds.

The server names these bodies when it starts a run, so it imports this module too: the engines behind
them (Polars, sqlglot) are imported inside each body, which the forkserver has preloaded already."""

from __future__ import annotations

import os
from dataclasses import asdict

import orjson

from server.engine.child import JobPlan
from server.engine.dataplane import RunContext, RunResult
from server.engine.dataplane.quality import CheckSpec

OUTCOMES_FILE = "outcomes.json"
STEP_ID = "quality_check"
PROFILE_FILE = "profile.json"
PROFILE_STEP = "profile"


def run_checks(plan: JobPlan, ctx: RunContext) -> RunResult:
    """The body of a quality run's process: evaluate the checks, leave the outcomes in the plan's folder."""
    config = plan.steps[0]["config"]
    source, schema = plan.datasets[config["dataset_id"]]
    references = {key: value[0] for key, value in plan.datasets.items() if key != config["dataset_id"]}
    checks = [CheckSpec(**check) for check in config["checks"]]
    ctx.on_step_start(STEP_ID)
    from server.engine.dataplane.quality.api import evaluate_source  # Imported here: see the module's note.

    outcomes = evaluate_source(source, checks, policy=plan.policy, schema_fields=schema["fields"],
                               references=references, sensitive=set(config["sensitive"]))
    assert plan.temp_dir is not None
    with open(os.path.join(plan.temp_dir, OUTCOMES_FILE), "wb") as handle:
        handle.write(orjson.dumps([asdict(outcome) for outcome in outcomes], default=str))
    return None  # type: ignore[return-value]


def run_profile(plan: JobPlan, ctx: RunContext) -> RunResult:
    """The body of a profiling process: profile the dataset, leave the figures in the plan's folder."""
    from server.engine.profiling import profile_dataset  # Imported here: see the module's note.

    return profile_dataset(plan, ctx)
