"""The quality_check step in real pipeline jobs: an `error` rule stops the sink, a `warning` one does not."""

from __future__ import annotations

import copy

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
             ({"checks": [{"rule_type": "sometimes"}]}, "steps[1].config.checks[0].rule_type")]
    for gate, field in cases:
        # when
        resp = await client.post("/api/v1/pipelines", json={"name": "p", "steps": [
            source, {"id": "gate", "type": "quality_check", "config": gate}]})
        # then
        assert resp.status == 400, await resp.text()
        assert (await resp.json())["error"]["details"]["field"] == field
