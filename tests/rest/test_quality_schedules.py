"""Quality rules on a cron schedule: validation, next runs, one run per tick, arming and disarming."""

from __future__ import annotations

import asyncio
import copy
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime

from resolvers.quality.runs import fire_rule_tick
from server.engine import quality_runs
from server.engine.service import ENGINE
from server.models.quality import QualityResult
from tests.examples import CREATE_QUALITY_RULE

ROOT = "/api/v1/quality/rules"


async def make_rule(client, tmp_path, **overrides):
    found = await (await client.get("/api/v1/datasets?name=c")).json()
    if found["data"]:
        dataset_id = found["data"][0]["id"]
    else:
        (tmp_path / "c.csv").write_text("id,email\n1,a@example.com\n")
        made = await client.post("/api/v1/datasets", json={"name": "c", "source": {
            "type": "file", "path": str(tmp_path / "c.csv")}})
        dataset_id = (await made.json())["id"]
    body = {**copy.deepcopy(CREATE_QUALITY_RULE), "dataset_id": dataset_id, **overrides}
    return await client.post(ROOT, json=body)


async def test_a_schedule_is_validated_and_shows_its_next_runs(client, tmp_path):
    # when
    bad_cron = await make_rule(client, tmp_path, schedule={"cron": "every day"})
    bad_zone = await make_rule(client, tmp_path, schedule={"cron": "0 2 * * *", "timezone": "Mars/Base"})
    made = await make_rule(client, tmp_path, schedule={"cron": "0 2 * * *", "timezone": "Europe/Paris"})
    # then
    assert bad_cron.status == 400 and (await bad_cron.json())["error"]["details"]["field"] == "schedule.cron"
    assert bad_zone.status == 400 and (await bad_zone.json())["error"]["details"]["field"] == "schedule.timezone"
    rule = await made.json()
    assert rule["schedule"]["cron"] == "0 2 * * *" and rule["schedule"]["timezone"] == "Europe/Paris"
    assert len(rule["schedule"]["next_runs"]) == 5
    assert all(run.endswith(("+01:00", "+02:00")) for run in rule["schedule"]["next_runs"])
    removed = await (await client.put(f"{ROOT}/{rule['id']}", json={"schedule": None})).json()
    assert removed["schedule"] is None


async def test_one_tick_starts_one_run_however_many_processes_fire_it(client, tmp_path):
    # given
    rule = await (await make_rule(client, tmp_path, schedule={"cron": "0 2 * * *"})).json()
    tick = datetime(2026, 6, 1, 2, 0, 0, 300_000, tzinfo=UTC)
    # when two schedulers fire the same tick
    first, second = await fire_rule_tick(rule["id"], tick), await fire_rule_tick(rule["id"], tick)
    # then
    assert first is not None and second is None
    results = await QualityResult.filter(rule_id=rule["id"])
    assert [(r.trigger, r.scheduled_for) for r in results] == [("schedule", datetime(2026, 6, 1, 2, 0, tzinfo=UTC))]


async def test_the_schedule_is_armed_and_disarmed_with_the_rule(client, tmp_path):
    # given
    scheduler = client.app[ENGINE].quality_scheduler
    rule = await (await make_rule(client, tmp_path, schedule={"cron": "0 2 * * *"})).json()

    async def armed() -> bool:
        return rule["id"] in scheduler.crons

    async def until(state: bool) -> bool:
        for _ in range(200):
            if await armed() == state:
                return state
            await asyncio.sleep(0.02)
        return not state

    # then
    assert await until(True)
    await client.post(f"{ROOT}/{rule['id']}/disable")
    assert not await until(False)
    await client.post(f"{ROOT}/{rule['id']}/enable")
    assert await until(True)
    await client.delete(f"{ROOT}/{rule['id']}")
    assert not await until(False)


async def test_scheduled_checks_due_on_one_dataset_run_as_one_batch(start_app, settings, tmp_path, monkeypatch):
    # given three scheduled rules of one SQLite table whose ticks fell due while no worker ran
    quiet = await start_app(replace(settings, run_jobs=False, run_schedules=False))
    with sqlite3.connect(tmp_path / "crm.db") as db:
        db.execute("CREATE TABLE customers (id INTEGER NOT NULL, email TEXT)")
        db.executemany("INSERT INTO customers VALUES (?, ?)", [(1, "a@x.io"), (2, None), (3, "c@x.io")])
    made = await quiet.post("/api/v1/datasets", json={"name": "crm", "source": {
        "type": "database", "connection": f"sqlite:///{tmp_path / 'crm.db'}", "table": "customers"}})
    dataset_id = (await made.json())["id"]
    configs = [("not_null", {"column": "email"}), ("unique", {"column": "id"}), ("row_count", {"min": 5})]
    tick = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
    started = []
    for rule_type, config in configs:
        rule = await (await quiet.post(ROOT, json={"name": rule_type, "dataset_id": dataset_id,
                                                   "rule_type": rule_type, "config": config,
                                                   "schedule": {"cron": "0 2 * * *"}})).json()
        started.append(await fire_rule_tick(rule["id"], tick))
    processes: list[int] = []

    class Counted(quality_runs.ChildRun):
        def __init__(self, plan, *args, **kwargs) -> None:
            processes.append(len(plan.steps[0]["config"]["checks"]))
            super().__init__(plan, *args, **kwargs)

    monkeypatch.setattr(quality_runs, "ChildRun", Counted)
    # when a worker starts
    worker = await start_app(replace(settings, run_schedules=False))
    results = {}
    for result_id in started:
        for _ in range(600):
            results[result_id] = await (await worker.get(f"/api/v1/quality/results/{result_id}")).json()
            if results[result_id]["status"] != "running":
                break
            await asyncio.sleep(0.05)
    # then one job process evaluated the three checks, each stored with its own outcome
    assert processes == [3]
    outcomes = [(results[i]["status"], results[i]["rows_checked"], results[i]["rows_failed"]) for i in started]
    assert outcomes == [("failed", 3, 1), ("passed", 3, 0), ("failed", 3, 0)]
    assert results[started[2]]["observed"] == 3
