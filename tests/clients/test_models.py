"""Answers of a newer server still parse: unknown fields are kept, unknown statuses and kinds are text."""

from __future__ import annotations

from docc.models import Job, JobEvent, QualityResult, QualityRule

NOW = "2026-12-06T22:00:00Z"


def test_a_job_with_a_status_and_a_field_this_sdk_does_not_know_parses():
    # when
    job = Job.model_validate({"id": "job_1", "pipeline_id": "pl_1", "pipeline_version": 1, "status": "timed_out",
                              "trigger": "manual", "created_at": NOW, "percent_complete": 40.0, "steps": [],
                              "timeout_seconds": 60})
    # then
    assert job.status == "timed_out" and job.model_extra == {"timeout_seconds": 60}


def test_a_feed_entry_of_a_new_kind_without_a_job_parses():
    # when
    event = JobEvent.model_validate({"cursor": 7, "kind": "quality_audited", "rule_id": "qr_1", "status": "passed",
                                     "auditor": "x", "time": NOW})
    # then
    assert event.kind == "quality_audited" and event.job_id is None and event.rule_id == "qr_1"
    assert event.model_extra == {"auditor": "x"}


def test_quality_answers_with_new_values_parse():
    # when
    rule = QualityRule.model_validate({"id": "qr_1", "name": "n", "description": "", "dataset_id": "ds_1",
                                       "rule_type": "json_schema", "config": {}, "severity": "critical",
                                       "enabled": True, "version": 1, "created_at": NOW, "updated_at": NOW})
    result = QualityResult.model_validate({"id": "qres_1", "rule_id": "qr_1", "dataset_id": "ds_1",
                                           "rule_version": 1, "schema_version": 1, "status": "skipped",
                                           "severity": "critical", "trigger": "pipeline", "threshold": 1.0,
                                           "started_at": NOW, "attempt": 2})
    # then
    assert rule.rule_type == "json_schema" and rule.severity == "critical"
    assert result.status == "skipped" and result.finished and not result.passed
    assert result.model_extra == {"attempt": 2}
