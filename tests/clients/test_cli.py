"""The `docc` command line against a real server: output, exit codes, `run --follow` as a CI gate, login."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import yaml
from docc.cli.output import EXIT_INVALID, EXIT_JOB_FAILED, EXIT_NOT_FOUND, EXIT_REFUSED

from tests.clients.conftest import SDK_ROOT
from tests.clients.helpers import BAD_CSV, dataset_spec, pipeline_spec, unique


def test_a_dataset_created_from_yaml_is_listed_as_json_and_shown_as_a_table(docc_cli, server, tmp_path):
    # given
    tag = unique("cli")
    spec_file = tmp_path / "dataset.yaml"
    spec_file.write_text(yaml.safe_dump(dataset_spec(server.files, tags=[tag])))
    # when
    created = docc_cli("-o", "json", "datasets", "create", "-f", str(spec_file))
    listed = docc_cli("-o", "json", "datasets", "list", "--tag", tag)
    made = json.loads(created.stdout)
    shown = docc_cli("datasets", "get", made["id"])
    # then
    assert created.exit_code == 0 and made["id"].startswith("ds_")
    assert listed.exit_code == 0 and [d["id"] for d in json.loads(listed.stdout)] == [made["id"]]
    assert shown.exit_code == 0 and made["name"] in shown.stdout and "schema" in shown.stdout


def test_exit_codes_name_not_found_refused_and_invalid(docc_cli, sdk, server, tmp_path):
    # given
    dataset = sdk.datasets.create(dataset_spec(server.files))
    incompatible = tmp_path / "schema.json"
    incompatible.write_text(json.dumps({"fields": [{"name": "id", "type": "string", "nullable": False}]}))
    # when
    missing = docc_cli("datasets", "get", "ds_missing")
    refused = docc_cli("datasets", "list", DOCC_API_KEY="docc_not_a_key")
    invalid = docc_cli("datasets", "schema", "validate", dataset.id, "-f", str(incompatible))
    unknown_pipeline = docc_cli("pipelines", "run", unique("nothing"))
    as_json = docc_cli("-o", "json", "datasets", "get", "ds_missing")
    # then
    assert missing.exit_code == EXIT_NOT_FOUND and "NOT_FOUND" in missing.stderr
    assert refused.exit_code == EXIT_REFUSED and "UNAUTHORIZED" in refused.stderr
    assert invalid.exit_code == EXIT_INVALID and "incompatible" in invalid.stdout
    assert unknown_pipeline.exit_code == EXIT_NOT_FOUND
    assert json.loads(as_json.stderr.strip().splitlines()[-1])["error"]["request_id"].startswith("req_")


def test_run_follow_exits_zero_when_the_job_succeeds_and_five_when_it_fails(docc_cli, sdk, server):
    # given
    good = sdk.pipelines.create(pipeline_spec(sdk.datasets.create(dataset_spec(server.files)).id, server.files))
    bad_dataset = sdk.datasets.create(dataset_spec(server.files, csv=BAD_CSV))
    bad = sdk.pipelines.create(pipeline_spec(bad_dataset.id, server.files))
    # when
    passed = docc_cli("pipelines", "run", good.name, "--follow")
    failed = docc_cli("pipelines", "run", bad.id, "--follow")
    # then: plain lines (no terminal here), then the outcome
    assert passed.exit_code == 0, passed.stderr
    assert "rows in 4, rows out 2" in passed.stdout and "succeeded" in passed.stdout.splitlines()[-1]
    assert failed.exit_code == EXIT_JOB_FAILED and "failed" in failed.stdout.splitlines()[-1]


def test_run_follow_as_json_streams_lines_then_the_job(docc_cli, sdk, server):
    # given
    pipeline = sdk.pipelines.create(pipeline_spec(sdk.datasets.create(dataset_spec(server.files)).id, server.files))
    # when
    result = docc_cli("-o", "json", "pipelines", "run", pipeline.id, "--follow")
    # then
    documents = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.exit_code == 0
    assert [d["seq"] for d in documents[:-1]] == list(range(1, len(documents)))
    assert documents[-1]["status"] == "succeeded" and documents[-1]["pipeline_id"] == pipeline.id


def test_jobs_list_get_logs_and_a_refused_cancel(docc_cli, sdk, server):
    # given
    pipeline = sdk.pipelines.create(pipeline_spec(sdk.datasets.create(dataset_spec(server.files)).id, server.files))
    job = sdk.pipelines.run(pipeline.id).wait(timeout=60)
    # when
    listed = docc_cli("-o", "json", "jobs", "list", "--pipeline", pipeline.id)
    shown = docc_cli("jobs", "get", job.id)
    logs = docc_cli("jobs", "logs", job.id)
    cancel = docc_cli("jobs", "cancel", job.id)
    # then
    assert [j["id"] for j in json.loads(listed.stdout)] == [job.id]
    assert shown.exit_code == 0 and "succeeded" in shown.stdout
    assert logs.exit_code == 0 and "job succeeded" in logs.stdout
    assert cancel.exit_code == EXIT_INVALID and "CONFLICT" in cancel.stderr


def test_login_stores_the_key_for_later_commands(docc_cli, server, tmp_path):
    # given
    config = tmp_path / "xdg"
    # when
    stored = docc_cli("login", "--url", server.url, "--api-key", server.key, XDG_CONFIG_HOME=str(config),
                      DOCC_API_KEY="", DOCC_URL="")
    later = docc_cli("-o", "json", "datasets", "list", "--limit", "1", XDG_CONFIG_HOME=str(config),
                     DOCC_API_KEY="", DOCC_URL="")
    wrong = docc_cli("login", "--url", server.url, "--api-key", "docc_wrong", XDG_CONFIG_HOME=str(tmp_path / "b"),
                     DOCC_API_KEY="", DOCC_URL="")
    # then
    path = config / "docc" / "config"
    assert stored.exit_code == 0 and server.key in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert later.exit_code == 0 and isinstance(json.loads(later.stdout), list)
    assert wrong.exit_code == EXIT_REFUSED and not (tmp_path / "b" / "docc" / "config").exists()


def test_the_command_runs_as_its_own_process_and_gates_on_a_failed_job(sdk, server, env):
    # given
    dataset = sdk.datasets.create(dataset_spec(server.files, csv=BAD_CSV))
    pipeline = sdk.pipelines.create(pipeline_spec(dataset.id, server.files))
    # when
    done = subprocess.run([sys.executable, "-m", "docc", "pipelines", "run", pipeline.name, "--follow"],
                          env={**os.environ, **env, "PYTHONPATH": str(SDK_ROOT)}, capture_output=True, text=True,
                          timeout=120)
    # then
    assert done.returncode == EXIT_JOB_FAILED, done.stderr
    assert "failed" in done.stdout.splitlines()[-1]


def test_on_a_terminal_the_follow_shows_a_progress_bar_and_the_same_outcome(docc_cli, sdk, server):
    # given: a terminal (Rich's TTY_COMPATIBLE), and a pipeline that fails
    dataset = sdk.datasets.create(dataset_spec(server.files, csv=BAD_CSV))
    pipeline = sdk.pipelines.create(pipeline_spec(dataset.id, server.files))
    # when
    result = docc_cli("pipelines", "run", pipeline.id, "--follow", TTY_COMPATIBLE="1", TTY_INTERACTIVE="1")
    # then: the bar (drawn with escape sequences) came and went; the log and the outcome stay
    assert result.exit_code == EXIT_JOB_FAILED
    assert "\x1b[?25l" in result.stdout and "━" in result.stdout and "job failed" in result.stdout
