"""The quality_check step's gate, ready for the runner: shape checks, outcomes logged, `error` checks block."""

from __future__ import annotations

import polars as pl
import pytest

from resolvers.errors import ValidationError
from resolvers.principal import Principal
from resolvers.quality.pipeline_checks import check_quality_steps
from server.engine.dataplane import DataPlaneConfigError, StepFailed
from server.engine.dataplane.gate_config import check_gate_config
from server.engine.dataplane.quality_gate import run_gate
from server.engine.quality_steps import expand_quality_steps
from server.models.base import new_id
from server.models.datasets import Dataset
from server.models.quality import QualityRule

FRAME = pl.LazyFrame({"id": [1, 2, 3, 4], "email": ["a@x.io", "bad", None, "b@y.io"]})
SCHEMA = [{"name": "id", "type": "integer"}, {"name": "email", "type": "string"}]
EMAIL = {"column": "email", "pattern": "^[a-z]+@[a-z]+\\.[a-z]+$"}
PRINCIPAL = Principal(subject="tests", workspace_id="ws_default", scopes=frozenset({"admin"}))


def gate(checks, lines=None):
    log = (lambda level, step, message: lines.append((level, step, message))) if lines is not None else \
        (lambda *_: None)
    return run_gate(FRAME, {"checks": checks}, step_id="qc", schema_fields=SCHEMA, sensitive=set(), log=log)


@pytest.mark.parametrize(("config", "field"), [
    ({}, "step.config"),
    ({"rules": ["qr_a"], "checks": []}, "step.config"),
    ({"rules": []}, "step.config.rules"),
    ({"checks": [{"rule_type": "nope"}]}, "step.config.checks[0].rule_type"),
    ({"checks": [{"rule_type": "not_null", "severity": "fatal"}]}, "step.config.checks[0].severity"),
    ({"checks": [{"rule_type": "not_null", "colour": 1}]}, "step.config.checks[0].colour"),
    ({"filter": "x"}, "step.config.filter"),
])
def test_gate_shapes_are_refused_with_the_field(config, field):
    with pytest.raises(DataPlaneConfigError) as caught:
        check_gate_config(config, "step.config")
    assert caught.value.field == field


def test_a_failing_warning_is_logged_and_the_rows_flow_on():
    # given
    lines: list = []
    # when
    [outcome] = gate([{"rule_type": "regex_match", "config": EMAIL, "severity": "warning"}], lines)
    # then
    assert (outcome.status, outcome.rows_failed, outcome.nulls) == ("failed", 1, 1)
    assert [(level, step) for level, step, _ in lines] == [("warning", "qc")]
    assert "1 of 4 rows failed" in lines[0][2]


def test_a_failing_error_check_fails_the_step_and_a_passing_one_does_not():
    # given
    passing = {"rule_type": "not_null", "config": {"column": "id"}, "severity": "error"}
    failing = {"rule_type": "not_null", "config": {"column": "email"}, "severity": "error", "key": "emails"}
    # when
    [ok] = gate([passing])
    with pytest.raises(StepFailed) as caught:
        gate([passing, failing])
    # then
    assert ok.status == "passed"
    assert caught.value.step_id == "qc" and "emails" in caught.value.message


async def test_saved_rules_are_checked_at_save_and_expanded_before_a_run(db):
    # given
    await Dataset.create(id="ds_people", workspace_id="ws_default", name="people", source_type="file",
                         source={"type": "file", "path": "/data/p.csv"}, schema_fields=SCHEMA)
    rule = await QualityRule.create(id=new_id("qr"), workspace_id="ws_default", dataset_id="ds_people", name="r",
                                    rule_type="regex_match", config=EMAIL, severity="warning")
    steps = [{"id": "in", "type": "data_source", "config": {"dataset_id": "ds_people"}},
             {"id": "qc", "type": "quality_check", "config": {"rules": [rule.id]}}]
    bad_inline = [steps[0], {"id": "qc", "type": "quality_check", "config": {"checks": [
        {"rule_type": "regex_match", "config": {"column": "email", "pattern": "(open"}}]}}]
    # when
    await check_quality_steps(PRINCIPAL, steps)
    with pytest.raises(ValidationError) as unknown:
        await check_quality_steps(PRINCIPAL, [steps[0], {"id": "qc", "type": "quality_check",
                                                         "config": {"rules": ["qr_missing"]}}])
    with pytest.raises(ValidationError) as inline:
        await check_quality_steps(PRINCIPAL, bad_inline)
    expanded = await expand_quality_steps("ws_default", steps)
    await QualityRule.filter(id=rule.id).delete()
    after_delete = await expand_quality_steps("ws_default", steps)
    # then
    assert unknown.value.details["field"] == "steps[1].config.rules[0]"
    assert inline.value.details["field"] == "steps[1].config.checks[0].config.pattern"
    assert expanded[1]["config"] == {"checks": [{"key": rule.id, "rule_type": "regex_match", "config": EMAIL,
                                                 "severity": "warning"}]}
    with pytest.raises(StepFailed):
        run_gate(FRAME, after_delete[1]["config"], step_id="qc", schema_fields=SCHEMA, sensitive=set(),
                 log=lambda *_: None)
