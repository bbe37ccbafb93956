"""`docc quality ...`, `docc datasets profile` and `docc events` against a real server: output and exit codes,
with a failed check as a CI gate."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import yaml
from docc.cli.output import EXIT_CHECK_FAILED, EXIT_INVALID, EXIT_NOT_FOUND

from tests.clients.conftest import SDK_ROOT
from tests.clients.helpers import dataset_spec, pipeline_spec, unique


def rule_file(tmp_path, dataset_id: str, column: str):
    path = tmp_path / f"rule_{column}.yaml"
    path.write_text(yaml.safe_dump({"name": unique(f"not_null_{column}"), "dataset_id": dataset_id,
                                    "rule_type": "not_null", "config": {"column": column}, "severity": "warning"}))
    return str(path)


def test_rules_are_created_listed_shown_disabled_enabled_and_deleted(docc_cli, sdk, server, tmp_path):
    # given
    dataset = sdk.datasets.create(dataset_spec(server.files))
    # when
    created = docc_cli("-o", "json", "quality", "rules", "create", "-f", rule_file(tmp_path, dataset.id, "id"))
    rule = json.loads(created.stdout)
    listed = docc_cli("-o", "json", "quality", "rules", "list", "--dataset", dataset.id, "--severity", "warning")
    table = docc_cli("quality", "rules", "list", "--dataset", dataset.id, COLUMNS="200")
    shown = docc_cli("quality", "rules", "get", rule["id"])
    disabled = docc_cli("-o", "json", "quality", "rules", "disable", rule["id"])
    only_disabled = docc_cli("-o", "json", "quality", "rules", "list", "--dataset", dataset.id, "--disabled")
    enabled = docc_cli("-o", "json", "quality", "rules", "enable", rule["id"])
    deleted = docc_cli("quality", "rules", "delete", rule["id"])
    gone = docc_cli("quality", "rules", "get", rule["id"])
    # then
    assert created.exit_code == 0 and rule["id"].startswith("qr_") and rule["rule_type"] == "not_null"
    assert [r["id"] for r in json.loads(listed.stdout)] == [rule["id"]]
    assert table.exit_code == 0 and rule["id"] in table.stdout and "not_null" in table.stdout
    assert shown.exit_code == 0 and rule["name"] in shown.stdout
    assert json.loads(disabled.stdout)["enabled"] is False
    assert [r["id"] for r in json.loads(only_disabled.stdout)] == [rule["id"]]
    assert json.loads(enabled.stdout)["enabled"] is True
    assert deleted.exit_code == 0 and gone.exit_code == EXIT_NOT_FOUND


def test_a_run_that_passes_exits_zero_and_one_that_fails_exits_five(docc_cli, sdk, server, tmp_path):
    # given
    dataset = sdk.datasets.create(dataset_spec(server.files))
    good = sdk.quality.rules.create(yaml.safe_load(open(rule_file(tmp_path, dataset.id, "id"))))
    bad = sdk.quality.rules.create(yaml.safe_load(open(rule_file(tmp_path, dataset.id, "age"))))
    # when
    passed = docc_cli("quality", "rules", "run", good.id, "--wait", "30")
    failed = docc_cli("-o", "json", "quality", "rules", "run", bad.id, "--wait", "30")
    results = docc_cli("-o", "json", "quality", "rules", "results", bad.id)
    shown = docc_cli("quality", "results", "get", json.loads(failed.stdout)["id"])
    cancel = docc_cli("quality", "results", "cancel", json.loads(failed.stdout)["id"])
    # then
    assert passed.exit_code == 0 and "passed" in passed.stdout
    assert failed.exit_code == EXIT_CHECK_FAILED and json.loads(failed.stdout)["rows_failed"] == 1
    assert [r["id"] for r in json.loads(results.stdout)] == [json.loads(failed.stdout)["id"]]
    assert shown.exit_code == 0 and "failed" in shown.stdout
    assert cancel.exit_code == EXIT_INVALID and "CONFLICT" in cancel.stderr


def test_a_failed_check_gates_a_ci_step_run_as_its_own_process(sdk, server, env):
    # given
    dataset = sdk.datasets.create(dataset_spec(server.files))
    rule = sdk.quality.rules.create(name=unique("ages"), dataset_id=dataset.id, rule_type="not_null",
                                    config={"column": "age"})
    # when
    done = subprocess.run([sys.executable, "-m", "docc", "quality", "rules", "run", rule.id, "--wait", "30"],
                          env={**os.environ, **env, "PYTHONPATH": str(SDK_ROOT)}, capture_output=True, text=True,
                          timeout=120)
    # then
    assert done.returncode == EXIT_CHECK_FAILED, done.stderr
    assert "failed" in done.stdout


def test_a_profile_is_made_then_shown_with_get(docc_cli, sdk, server):
    # given
    dataset = sdk.datasets.create(dataset_spec(server.files))
    # when
    before = docc_cli("datasets", "profile", dataset.id, "--get")
    made = docc_cli("-o", "json", "datasets", "profile", dataset.id, "--wait", "30")
    shown = docc_cli("datasets", "profile", dataset.id, "--get")
    # then
    assert before.exit_code == EXIT_NOT_FOUND
    assert made.exit_code == 0 and json.loads(made.stdout)["row_count"] == 4
    assert shown.exit_code == 0 and json.loads(made.stdout)["id"] in shown.stdout and "age" in shown.stdout


def test_events_print_one_line_per_event_and_ndjson_with_json_output(docc_cli, sdk, server):
    # given
    pipeline = sdk.pipelines.create(pipeline_spec(sdk.datasets.create(dataset_spec(server.files)).id, server.files))
    job = sdk.pipelines.run(pipeline.id).wait(timeout=60)
    with sdk.events.follow(after=0, pipeline_id=pipeline.id, status="succeeded") as feed:
        finished = next(iter(feed))
    # when: the feed up to the job's end (--limit stops a feed that never ends by itself)
    as_json = docc_cli("-o", "json", "events", "--after", "0", "--pipeline", pipeline.id, "--status", "succeeded",
                       "--limit", "1")
    lines = docc_cli("events", "--after", "0", "--pipeline", pipeline.id, "--limit", "2")
    refused = docc_cli("events", "--status", "exploded", "--limit", "1")
    # then
    documents = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert as_json.exit_code == 0
    assert documents == [{**finished.model_dump(mode="json", exclude_unset=True),
                          "time": documents[0]["time"]}] and documents[0]["job_id"] == job.id
    assert lines.exit_code == 0 and len(lines.stdout.splitlines()) == 2 and "created" in lines.stdout
    assert refused.exit_code == EXIT_INVALID and "VALIDATION_ERROR" in refused.stderr
