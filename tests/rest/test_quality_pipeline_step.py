"""The quality_check step in real pipeline jobs: an `error` rule stops the sink, a `warning` one does not."""

from __future__ import annotations

import copy

from server.engine.quality_runs import rule_topic
from server.engine.service import EVENT_BUS
from tests.examples import CREATE_QUALITY_RULE
from tests.rest.test_pipelines import wait_job

ROWS = "id,email\n1,a@example.com\n2,not-an-email\n3,b@example.com\n"


async def setup(client, tmp_path) -> tuple[str, str]:
    (tmp_path / "in.csv").write_text(ROWS)
    made = await client.post("/api/v1/datasets", json={"name": "people", "source": {
        "type": "file", "path": str(tmp_path / "in.csv")}})
    dataset_id = (await made.json())["id"]
    rule = await client.post("/api/v1/quality/rules", json={**copy.deepcopy(CREATE_QUALITY_RULE),
                                                             "dataset_id": dataset_id})
    return dataset_id, (await rule.json())["id"]


async def run(client, tmp_path, name: str, dataset_id: str, gate: dict) -> tuple[dict, bool]:
    out = tmp_path / f"{name}.csv"
    steps = [{"id": "input", "type": "data_source", "config": {"dataset_id": dataset_id}},
             {"id": "gate", "type": "quality_check", "config": gate},
             {"id": "output", "type": "data_sink", "config": {"path": str(out)}}]
    created = await client.post("/api/v1/pipelines", json={"name": name, "steps": steps})
    assert created.status == 201, await created.text()
    job = await (await client.post(f"/api/v1/pipelines/{(await created.json())['id']}/run")).json()
    return await wait_job(client, job["id"]), out.exists()


async def test_an_error_check_stops_the_sink_and_a_warning_does_not(client, tmp_path):
    # given a saved warning rule (2 of 3 pass, below its 0.95 threshold) and an inline error check
    dataset_id, rule_id = await setup(client, tmp_path)
    inline_error = {"checks": [{"rule_type": "regex_match", "severity": "error",
                                "config": {"column": "email", "pattern": "^[a-z]+@example\\.com$"}}]}
    # when
    warned, warned_written = await run(client, tmp_path, "warned", dataset_id, {"rules": [rule_id]})
    stopped, stopped_written = await run(client, tmp_path, "stopped", dataset_id, inline_error)
    # then
    assert warned["status"] == "succeeded" and warned_written
    assert (tmp_path / "warned.csv").read_text().count("\n") == 4
    assert stopped["status"] == "failed" and not stopped_written
    assert "quality check failed" in stopped["error"]
    logs = await (await client.get(f"/api/v1/jobs/{warned['id']}/logs")).json()
    assert any(line["level"] == "warning" and rule_id in line["message"] for line in logs["data"])


async def test_a_quality_check_step_is_validated_when_the_pipeline_is_saved(client, tmp_path):
    # given
    dataset_id, _ = await setup(client, tmp_path)
    source = {"id": "input", "type": "data_source", "config": {"dataset_id": dataset_id}}
    cases = [({"rules": ["qr_missing"]}, "steps[1].config.rules[0]"),
             ({"checks": [{"rule_type": "regex_match", "config": {"column": "email", "pattern": "(x"}}]},
              "steps[1].config.checks[0].config.pattern"),
             ({"checks": [{"rule_type": "sometimes"}]}, "steps[1].config.checks[0].rule_type"),
             # The engine's mark of a deleted saved rule is never a client's to write.
             ({"checks": [{"key": "qr_x", "missing": True, "severity": "error"}]},
              "steps[1].config.checks[0].missing")]
    for gate, field in cases:
        # when
        resp = await client.post("/api/v1/pipelines", json={"name": "p", "steps": [
            source, {"id": "gate", "type": "quality_check", "config": gate}]})
        # then
        assert resp.status == 400, await resp.text()
        assert (await resp.json())["error"]["details"]["field"] == field


async def test_a_saved_rule_run_by_a_step_is_stored_as_a_result_of_the_rule(client, tmp_path):
    # given a saved warning rule (2 of 3 rows pass, below its 0.95 threshold), and a listener on its results
    dataset_id, rule_id = await setup(client, tmp_path)
    subscription = client.app[EVENT_BUS].subscribe(rule_topic(rule_id))
    try:
        # when a pipeline runs it in a quality_check step, beside an inline check
        job, _ = await run(client, tmp_path, "stored", dataset_id, {"rules": [rule_id]})
        inline, _ = await run(client, tmp_path, "inline", dataset_id, {"checks": [
            {"rule_type": "not_null", "severity": "warning", "config": {"column": "email"}}]})
        event = await subscription.get(timeout=10)
    finally:
        subscription.close()
    # then the outcome is a result of the rule, naming the job, announced to the rule's subscribers
    assert job["status"] == "succeeded" and inline["status"] == "succeeded"
    results = (await (await client.get(f"/api/v1/quality/rules/{rule_id}/results")).json())["data"]
    assert len(results) == 1
    result = results[0]
    assert (result["status"], result["trigger"], result["job_id"]) == ("failed", "pipeline", job["id"])
    assert (result["rows_checked"], result["rows_failed"], result["threshold"]) == (3, 1, 0.95)
    assert result["rule_version"] == 1 and result["finished_at"] is not None
    assert len(result["sample"]) == 1 and result["sample"][0]["email"] == "not-an-email"
    assert event is not None and event.data["result_id"] == result["id"]
    # and the rule's latest status and the dataset's score follow it
    rule = await (await client.get(f"/api/v1/quality/rules/{rule_id}")).json()
    dataset = await (await client.get(f"/api/v1/datasets/{dataset_id}")).json()
    assert rule["latest_status"] == "failed" and dataset["quality_score"] == 0.0
    # and the inline check is in the job's log only
    logs = await (await client.get(f"/api/v1/jobs/{inline['id']}/logs")).json()
    assert any("not_null check" in line["message"] and "passed" in line["message"] for line in logs["data"])


async def test_a_rule_deleted_after_the_pipeline_was_saved_fails_the_step(client, tmp_path):
    # given a pipeline naming a saved rule, which is then deleted
    dataset_id, rule_id = await setup(client, tmp_path)
    steps = [{"id": "input", "type": "data_source", "config": {"dataset_id": dataset_id}},
             {"id": "gate", "type": "quality_check", "config": {"rules": [rule_id]}},
             {"id": "output", "type": "data_sink", "config": {"path": str(tmp_path / "out.csv")}}]
    pipeline = await (await client.post("/api/v1/pipelines", json={"name": "p", "steps": steps})).json()
    assert (await client.delete(f"/api/v1/quality/rules/{rule_id}")).status == 204
    # when
    job = await (await client.post(f"/api/v1/pipelines/{pipeline['id']}/run")).json()
    job = await wait_job(client, job["id"])
    # then
    assert job["status"] == "failed" and rule_id in job["error"]
    assert not (tmp_path / "out.csv").exists()
    logs = await (await client.get(f"/api/v1/jobs/{job['id']}/logs")).json()
    assert any("deleted since the pipeline was saved" in line["message"] for line in logs["data"])


async def file_dataset(caller, tmp_path, name: str, text: str) -> str:
    (tmp_path / f"{name}.csv").write_text(text)
    made = await caller.post("/api/v1/datasets", json={"name": name, "source": {
        "type": "file", "path": str(tmp_path / f"{name}.csv")}})
    assert made.status == 201, await made.text()
    return (await made.json())["id"]


async def test_a_referential_check_runs_in_a_step_on_a_dataset_of_the_workspace(client, other_client, tmp_path):
    # given orders whose country must be one of the countries dataset's codes (one is not)
    orders = await file_dataset(client, tmp_path, "orders", "id,country\n1,FR\n2,DE\n3,XX\n4,\n")
    countries = await file_dataset(client, tmp_path, "countries", "code\nFR\nDE\nIT\n")
    saved = await client.post("/api/v1/quality/rules", json={
        "name": "known_country", "dataset_id": orders, "rule_type": "referential", "severity": "warning",
        "config": {"column": "country", "dataset_id": countries, "ref_column": "code"}})
    assert saved.status == 201, await saved.text()
    rule_id = (await saved.json())["id"]
    # when the saved rule runs in a step, and the same check inline with error severity
    job, written = await run(client, tmp_path, "saved", orders, {"rules": [rule_id]})
    stopped, stopped_written = await run(client, tmp_path, "inline", orders, {"checks": [
        {"rule_type": "referential", "config": {"column": "country", "dataset_id": countries,
                                                "ref_column": "code"}}]})
    # then the saved rule's result has the exact counts, and the inline check gates the sink
    assert job["status"] == "succeeded" and written
    result = (await (await client.get(f"/api/v1/quality/rules/{rule_id}/results")).json())["data"][0]
    assert (result["status"], result["rows_checked"], result["rows_failed"], result["nulls"]) == ("failed", 4, 1, 1)
    assert result["error"] is None
    assert stopped["status"] == "failed" and not stopped_written
    logs = await (await client.get(f"/api/v1/jobs/{stopped['id']}/logs")).json()
    assert any("referential check" in line["message"] and "1 of 4 rows failed" in line["message"]
               for line in logs["data"])


async def test_a_step_cannot_reference_a_dataset_of_another_workspace(client, other_client, tmp_path):
    # given a dataset of another workspace
    orders = await file_dataset(client, tmp_path, "orders", "id,country\n1,FR\n")
    foreign = await file_dataset(other_client, tmp_path, "foreign", "code\nFR\n")
    steps = [{"id": "input", "type": "data_source", "config": {"dataset_id": orders}},
             {"id": "gate", "type": "quality_check", "config": {"checks": [
                 {"rule_type": "referential", "config": {"column": "country", "dataset_id": foreign,
                                                         "ref_column": "code"}}]}}]
    # when
    resp = await client.post("/api/v1/pipelines", json={"name": "p", "steps": steps})
    # then
    assert resp.status == 400, await resp.text()
    assert (await resp.json())["error"]["details"]["field"] == "steps[1].config.checks[0].config.dataset_id"
