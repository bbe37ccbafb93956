"""Running quality rules over REST on real files in the job workers: results, waiting, history, score, cancel."""

from __future__ import annotations

import asyncio
import copy
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from server.models.quality import QualityResult
from tests.conftest import Caller, bearer
from tests.examples import CREATE_QUALITY_RULE

ROOT = "/api/v1/quality/rules"
GOOD = [f"user{i}@example.com" for i in range(18)]


def write_customers(path, emails: list[str | None]) -> None:
    lines = ["id,name,email"] + [f"{i},n{i},{'' if e is None else e}" for i, e in enumerate(emails)]
    path.write_text("\n".join(lines) + "\n")


async def make_dataset(client, path, name: str = "customers") -> str:
    resp = await client.post("/api/v1/datasets", json={
        "name": name, "source": {"type": "file", "path": str(path)},
        "schema": {"fields": [{"name": "id", "type": "integer", "nullable": False},
                              {"name": "name", "type": "string", "nullable": False},
                              {"name": "email", "type": "string", "nullable": True}]}})
    assert resp.status == 201, await resp.text()
    return (await resp.json())["id"]


async def make_rule(client, dataset_id: str, **overrides: Any) -> dict[str, Any]:
    body = {**copy.deepcopy(CREATE_QUALITY_RULE), "dataset_id": dataset_id, **overrides}
    resp = await client.post(ROOT, json=body)
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def run_and_wait(client, rule_id: str) -> dict[str, Any]:
    resp = await client.post(f"{ROOT}/{rule_id}/run", headers={"Prefer": "wait=60"})
    assert resp.status == 200, await resp.text()
    assert resp.headers["Preference-Applied"] == "wait=60"
    return await resp.json()


async def test_the_reference_rule_runs_on_a_file_with_exact_counts(client, tmp_path):
    # given 18 valid addresses, one invalid and one null: 18 / 19 = 0.947 < 0.95
    path = tmp_path / "customers.csv"
    write_customers(path, [*GOOD, "not-an-email", None])
    dataset_id = await make_dataset(client, path)
    rule = await make_rule(client, dataset_id)
    # when
    result = await run_and_wait(client, rule["id"])
    # then
    assert result["id"].startswith("qres_") and result["rule_id"] == rule["id"]
    assert result["status"] == "failed", result
    assert (result["rows_checked"], result["rows_failed"], result["nulls"]) == (20, 1, 1)
    assert abs(result["pass_ratio"] - 18 / 19) < 1e-9 and result["threshold"] == 0.95
    assert [row["email"] for row in result["sample"]] == ["not-an-email"]
    assert result["rule_version"] == 1 and result["schema_version"] == 1 and result["severity"] == "warning"
    assert result["error"] is None and result["finished_at"] is not None and result["duration_s"] >= 0
    rule_now = await (await client.get(f"{ROOT}/{rule['id']}")).json()
    assert rule_now["latest_status"] == "failed"


async def test_a_run_answers_202_then_lands_and_the_score_follows(client, tmp_path):
    # given a passing not_null rule (error) and a failing regex rule (warning)
    path = tmp_path / "customers.csv"
    write_customers(path, [*GOOD, "bad"])
    dataset_id = await make_dataset(client, path)
    strict = await make_rule(client, dataset_id, name="ids", rule_type="not_null", config={"column": "id"},
                             severity="error")
    emails = await make_rule(client, dataset_id)
    # when
    started = await client.post(f"{ROOT}/{strict['id']}/run")
    body = await started.json()
    location = started.headers["Location"]
    for _ in range(600):
        landed = await (await client.get(location)).json()
        if landed["status"] != "running":
            break
        await asyncio.sleep(0.05)
    await run_and_wait(client, emails["id"])
    # then
    assert started.status == 202 and body["status"] == "running" and location == f"/api/v1/quality/results/{body['id']}"
    assert landed["status"] == "passed" and landed["pass_ratio"] == 1.0 and landed["sample"] == []
    dataset = await (await client.get(f"/api/v1/datasets/{dataset_id}")).json()
    assert dataset["quality_score"] == 0.6  # error (3) passed, warning (2) failed: 3 / 5
    await client.post(f"{ROOT}/{emails['id']}/disable")
    dataset = await (await client.get(f"/api/v1/datasets/{dataset_id}")).json()
    assert dataset["quality_score"] == 1.0


async def test_results_are_history_newest_first_with_filters(client, tmp_path):
    # given three runs: passed, then failed, then passed
    path = tmp_path / "customers.csv"
    dataset_id = await make_dataset(client, path)
    rule = await make_rule(client, dataset_id)
    ids = []
    for emails in (GOOD, [*GOOD, "bad", "worse"], GOOD):
        write_customers(path, emails)
        ids.append((await run_and_wait(client, rule["id"]))["id"])
    # when
    everything = await (await client.get(f"{ROOT}/{rule['id']}/results")).json()
    failed = await (await client.get(f"{ROOT}/{rule['id']}/results?status=failed")).json()
    later = await (await client.get(f"{ROOT}/{rule['id']}/results?since=2999-01-01T00:00:00Z")).json()
    bad = await client.get(f"{ROOT}/{rule['id']}/results?since=yesterday")
    # then
    assert [r["id"] for r in everything["data"]] == ids[::-1]
    assert [r["status"] for r in everything["data"]] == ["passed", "failed", "passed"]
    assert [r["id"] for r in failed["data"]] == [ids[1]]
    assert later["data"] == []
    assert bad.status == 400 and (await bad.json())["error"]["details"]["field"] == "since"


async def test_a_column_dropped_after_save_gives_an_error_result(client, tmp_path):
    # given a rule saved while the file had the column, then the file loses it
    path = tmp_path / "customers.csv"
    write_customers(path, GOOD)
    dataset_id = await make_dataset(client, path)
    rule = await make_rule(client, dataset_id)
    path.write_text("id,name\n1,a\n")
    # when
    result = await run_and_wait(client, rule["id"])
    # then
    assert result["status"] == "error"
    assert "email" in result["error"]
    assert result["pass_ratio"] is None
    dataset = await (await client.get(f"/api/v1/datasets/{dataset_id}")).json()
    assert dataset["quality_score"] == 0.0


async def test_a_key_without_read_datasets_never_sees_failing_rows(client, tmp_path):
    # given
    path = tmp_path / "customers.csv"
    write_customers(path, [*GOOD, "secret-value"])
    rule = await make_rule(client, await make_dataset(client, path))
    made = await client.post("/api/v1/workspaces/ws_default/keys", json={
        "name": "quality-only", "scopes": ["read:quality", "write:quality"]})
    quality_only = Caller(client.http, bearer((await made.json())["key"]))
    # when
    result = await run_and_wait(quality_only, rule["id"])
    listed = await (await quality_only.get(f"{ROOT}/{rule['id']}/results")).json()
    fetched = await (await quality_only.get(f"/api/v1/quality/results/{result['id']}")).json()
    # then
    assert result["rows_failed"] == 1
    for shown in (result, listed["data"][0], fetched):
        assert shown["sample"] is None
    for text in (str(result), str(listed), str(fetched)):
        assert "secret-value" not in text


async def test_an_unclaimed_run_is_cancelled_at_once_and_a_finished_one_conflicts(start_app, settings, tmp_path):
    # given an app that runs no jobs: the run stays unclaimed
    admin = await start_app(replace(settings, run_jobs=False, run_schedules=False))
    path = tmp_path / "customers.csv"
    write_customers(path, GOOD)
    rule = await make_rule(admin, await make_dataset(admin, path))
    started = await (await admin.post(f"{ROOT}/{rule['id']}/run", headers={"Prefer": "wait=0"})).json()
    # when
    cancelled = await admin.post(f"/api/v1/quality/results/{started['id']}/cancel")
    again = await admin.post(f"/api/v1/quality/results/{started['id']}/cancel")
    # then
    assert started["status"] == "running"
    assert cancelled.status == 202 and (await cancelled.json())["status"] == "cancelled"
    assert again.status == 409 and (await again.json())["error"]["code"] == "CONFLICT"


async def test_a_rule_on_a_sqlite_table_gives_the_same_counts_as_on_the_file(client, tmp_path):
    # given the same rows in a CSV file and in a SQLite table
    emails = [*GOOD, "not-an-email", None]
    write_customers(tmp_path / "customers.csv", emails)
    with sqlite3.connect(tmp_path / "crm.db") as db:
        db.execute("CREATE TABLE customers (id INTEGER NOT NULL, name TEXT NOT NULL, email TEXT)")
        db.executemany("INSERT INTO customers VALUES (?, ?, ?)", [(i, f"n{i}", e) for i, e in enumerate(emails)])
    on_file = await make_dataset(client, tmp_path / "customers.csv")
    made = await client.post("/api/v1/datasets", json={"name": "crm", "source": {
        "type": "database", "connection": f"sqlite:///{tmp_path / 'crm.db'}", "table": "customers"}})
    assert made.status == 201, await made.text()
    on_table = (await made.json())["id"]
    outcomes = {}
    for dataset_id in (on_file, on_table):
        for rule_type, config in (("not_null", {"column": "email"}), ("unique", {"column": "email"}),
                                  ("row_count", {"min": 25})):
            rule = await make_rule(client, dataset_id, name=f"{rule_type}", rule_type=rule_type, config=config)
            result = await run_and_wait(client, rule["id"])
            outcomes.setdefault(rule_type, []).append(
                (result["status"], result["rows_checked"], result["rows_failed"], result["nulls"],
                 result["observed"]))
    # then
    for rule_type, (file_outcome, table_outcome) in outcomes.items():
        assert file_outcome == table_outcome, rule_type
    assert outcomes["not_null"][0][:3] == ("failed", 20, 1)
    assert outcomes["row_count"][0][0] == "failed" and outcomes["row_count"][0][4] == 20


async def test_columns_marked_sensitive_are_masked_in_samples(client, tmp_path):
    # given a schema that marks the name column sensitive
    path = tmp_path / "customers.csv"
    write_customers(path, [*GOOD, "bad"])
    made = await client.post("/api/v1/datasets", json={
        "name": "customers", "source": {"type": "file", "path": str(path)},
        "schema": {"fields": [{"name": "id", "type": "integer", "nullable": False},
                              {"name": "name", "type": "string", "nullable": False, "sensitive": True},
                              {"name": "email", "type": "string", "nullable": True}]}})
    assert made.status == 201, await made.text()
    rule = await make_rule(client, (await made.json())["id"])
    # when
    result = await run_and_wait(client, rule["id"])
    # then
    [row] = result["sample"]
    assert row["email"] == "bad" and row["name"] != "n18"


async def test_a_run_whose_claimer_died_is_taken_over_when_its_lease_lapses(start_app, settings, tmp_path):
    # given a run claimed by a process that died (its lease expired), seen by an app that runs no jobs
    quiet = await start_app(replace(settings, run_jobs=False, run_schedules=False))
    path = tmp_path / "customers.csv"
    write_customers(path, GOOD)
    rule = await make_rule(quiet, await make_dataset(quiet, path))
    started = await (await quiet.post(f"{ROOT}/{rule['id']}/run")).json()
    await QualityResult.filter(id=started["id"]).update(
        runner="gone:1:abc", lease_expires_at=datetime.now(UTC) - timedelta(seconds=1))
    # when a process that runs jobs starts on the same database
    worker = await start_app(replace(settings, run_schedules=False))
    result = await (await worker.get(f"/api/v1/quality/results/{started['id']}")).json()
    for _ in range(600):
        if result["status"] != "running":
            break
        await asyncio.sleep(0.05)
        result = await (await worker.get(f"/api/v1/quality/results/{started['id']}")).json()
    # then it ran the check to its end, once
    assert result["status"] == "passed" and result["rows_checked"] == 18
    row = await QualityResult.get(id=started["id"])
    assert row.runner != "gone:1:abc" and row.lease_expires_at is None


async def test_a_quality_only_key_cannot_change_what_a_rule_reads(client, tmp_path):
    # given a rule, another dataset of the workspace, and a key holding only the quality scopes
    path = tmp_path / "customers.csv"
    write_customers(path, GOOD)
    dataset_id = await make_dataset(client, path)
    other = await make_dataset(client, path, name="other")
    rule = await make_rule(client, dataset_id)
    made = await client.post("/api/v1/workspaces/ws_default/keys", json={
        "name": "quality-only", "scopes": ["read:quality", "write:quality"]})
    quality_only = Caller(client.http, bearer((await made.json())["key"]))
    hostile = [
        {"rule_type": "custom_sql", "config": {"condition": "email = 'x' -- */ OR 1=1"}},
        {"rule_type": "referential", "config": {"column": "email", "dataset_id": other, "ref_column": "email"}},
        {"rule_type": "regex_match", "config": {"column": "email", "pattern": "(.*){1,255}(.*){1,255}z"}},
    ]
    # when
    created = [await quality_only.post(ROOT, json={"name": "r", "dataset_id": dataset_id, **body}) for body in hostile]
    changed = [await quality_only.put(f"{ROOT}/{rule['id']}", json=body) for body in hostile]
    renamed = await quality_only.put(f"{ROOT}/{rule['id']}", json={"description": "checked"})
    # then every change of what a rule reads is refused, and the rule is as it was
    for resp in (*created, *changed):
        assert resp.status == 403, await resp.text()
        assert (await resp.json())["error"]["code"] == "FORBIDDEN"
    assert renamed.status == 200
    now = await (await client.get(f"{ROOT}/{rule['id']}")).json()
    assert (now["rule_type"], now["config"], now["version"]) == (rule["rule_type"], rule["config"], 1)
