"""A small world for authorization tests: a dataset, a scheduled pipeline, a pending job, and narrow keys.

The app runs no jobs itself, so a job stays `pending` until a test cancels it and counts of jobs are exact.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from tests.conftest import Caller, bearer

# Each narrow key holds exactly these scopes: writes without the matching reads.
NARROW_KEYS: dict[str, list[str]] = {
    "pipeline_writer": ["write:pipelines", "run:pipelines"],
    "writer_only": ["write:pipelines"],
    "dataset_writer": ["write:datasets"],
    "job_reader": ["read:jobs"],
    "pipeline_reader": ["read:pipelines", "read:datasets"],
}


@dataclass
class World:
    admin: Caller
    keys: dict[str, Caller]
    dataset_id: str
    pipeline_id: str
    job_id: str
    folder: Any

    def steps(self, sink: str = "out.csv") -> list[dict[str, Any]]:
        return [{"id": "input", "type": "data_source", "config": {"dataset_id": self.dataset_id}},
                {"id": "output", "type": "data_sink", "config": {"path": str(self.folder / sink)}}]

    async def get(self, path: str) -> dict[str, Any]:
        resp = await self.admin.get(path)
        assert resp.status == 200, await resp.text()
        return await resp.json()

    async def jobs(self) -> list[dict[str, Any]]:
        return (await self.get("/api/v1/jobs?per_page=100"))["data"]


async def build_world(start_app, settings, tmp_path, **overrides: Any) -> World:
    admin = await start_app(replace(settings, run_jobs=False, run_schedules=False, **overrides))
    (tmp_path / "in.csv").write_text("id,name\n1,Ann\n2,Bob\n")
    made = await admin.post("/api/v1/datasets", json={"name": "people", "source": {
        "type": "file", "path": str(tmp_path / "in.csv")}})
    assert made.status == 201, await made.text()
    dataset_id = (await made.json())["id"]
    world = World(admin, {}, dataset_id, "", "", tmp_path)
    created = await admin.post("/api/v1/pipelines", json={
        "name": "people_copy", "steps": world.steps(), "schedule": {"cron": "0 2 * * *"}})
    assert created.status == 201, await created.text()
    world.pipeline_id = (await created.json())["id"]
    run = await admin.post(f"/api/v1/pipelines/{world.pipeline_id}/run")
    world.job_id = (await run.json())["id"]
    for name, scopes in NARROW_KEYS.items():
        key = await admin.post("/api/v1/workspaces/ws_default/keys", json={"name": name, "scopes": scopes})
        world.keys[name] = Caller(admin.http, bearer((await key.json())["key"]))
    return world
