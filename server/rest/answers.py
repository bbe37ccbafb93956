"""JSON Schemas of the main answers (datasets, pipelines, jobs, quality rules, results and profiles), for the
OpenAPI document: what the `*_json` functions of the REST modules write, key for key.

tests/rest/test_openapi_answers.py validates real answers against them, and the SDK's test compares its
models with them, so the document, the server and the SDK cannot drift apart. Statuses and kinds are plain
strings here: a client must accept values a newer server adds.
"""

from __future__ import annotations

from typing import Any

STRING: dict[str, Any] = {"type": "string"}
INTEGER: dict[str, Any] = {"type": "integer"}
NUMBER: dict[str, Any] = {"type": "number"}
BOOLEAN: dict[str, Any] = {"type": "boolean"}
OBJECT: dict[str, Any] = {"type": "object"}
INSTANT: dict[str, Any] = {"type": "string", "format": "date-time"}
ANY: dict[str, Any] = {}


def maybe(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def shape(description: str, properties: dict[str, dict[str, Any]], optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """An object whose keys are all present (but the `optional` ones) and that may gain keys later."""
    return {"type": "object", "description": description, "properties": properties,
            "required": [name for name in properties if name not in optional]}


SCHEMAS: dict[str, dict[str, Any]] = {
    "DatasetField": shape("One column of a dataset's schema; keys without a value are left out.", {
        "name": STRING, "type": STRING, "nullable": BOOLEAN, "description": STRING, "precision": INTEGER,
        "scale": INTEGER, "items": STRING, "values": STRING, "sensitive": BOOLEAN,
    }, optional=("nullable", "description", "precision", "scale", "items", "values", "sensitive")),
    "Dataset": shape("A dataset: where its data lives (secrets masked), its current schema and quality.", {
        "id": STRING, "name": STRING, "description": STRING, "status": STRING, "created_at": INSTANT,
        "updated_at": INSTANT, "source": OBJECT,
        "schema": shape("The current schema.", {"fields": array(ref("DatasetField"))}),
        "tags": array(STRING), "quality_score": maybe(NUMBER), "last_profiled": maybe(INSTANT),
    }),
    "Schedule": shape("A pipeline's schedule and its next run times.", {
        "cron": STRING, "timezone": STRING, "paused": BOOLEAN, "next_runs": array(INSTANT),
        "updated_at": maybe(INSTANT),
    }),
    "Pipeline": shape("A pipeline at its current version.", {
        "id": STRING, "name": STRING, "description": STRING, "steps": array(OBJECT), "version": INTEGER,
        "schedule": maybe(ref("Schedule")), "concurrency": STRING, "retries": maybe(ref("PipelineRetries")),
        "timeout": maybe(NUMBER), "created_by": maybe(STRING), "created_at": INSTANT, "updated_at": INSTANT,
        "log_level": maybe(STRING),
    }),
    "PipelineRetries": shape("A pipeline's retries: times in seconds.", {
        "count": INTEGER, "delay": NUMBER, "backoff": NUMBER, "max_delay": maybe(NUMBER),
    }),
    "JobAttempt": shape("One run of a job under its pipeline's retry policy.", {
        "number": INTEGER, "status": STRING, "error": maybe(STRING), "started_at": INSTANT,
        "finished_at": maybe(INSTANT),
    }),
    "JobStep": shape("One step of a job.", {
        "id": STRING, "type": STRING, "status": STRING, "rows_in": maybe(INTEGER), "rows_out": maybe(INTEGER),
        "duration_s": maybe(NUMBER), "error": maybe(STRING), "started_at": maybe(INSTANT),
        "finished_at": maybe(INSTANT),
    }),
    "Job": shape("A run of a pipeline, with its steps and progress.", {
        "id": STRING, "pipeline_id": STRING, "pipeline_version": INTEGER, "status": STRING, "trigger": STRING,
        "retry_of": maybe(STRING), "from_step": maybe(STRING), "scheduled_for": maybe(INSTANT),
        "created_by": maybe(STRING), "created_at": INSTANT, "started_at": maybe(INSTANT),
        "finished_at": maybe(INSTANT), "duration_s": maybe(NUMBER), "percent_complete": NUMBER,
        "statistics": maybe(OBJECT), "error": maybe(STRING), "cancel_requested": BOOLEAN, "claims": INTEGER,
        "waiting_for": maybe(STRING), "next_attempt_at": maybe(INSTANT), "attempts": array(ref("JobAttempt")),
        "pipeline_deleted": BOOLEAN, "steps": array(ref("JobStep")),
    }),
    "QualityRuleSchedule": shape("A quality rule's schedule and its next run times.", {
        "cron": STRING, "timezone": STRING, "next_runs": array(INSTANT),
    }),
    "QualityRule": shape("A quality rule with its version and the status of its latest result.", {
        "id": STRING, "name": STRING, "description": STRING, "dataset_id": STRING, "rule_type": STRING,
        "config": OBJECT, "severity": STRING, "enabled": BOOLEAN, "version": INTEGER,
        "schedule": maybe(ref("QualityRuleSchedule")), "latest_status": maybe(STRING), "created_by": maybe(STRING),
        "created_at": INSTANT, "updated_at": INSTANT,
    }),
    "QualityResult": shape("One run of a quality rule; `sample` is null without read:datasets.", {
        "id": STRING, "rule_id": STRING, "dataset_id": STRING, "rule_version": INTEGER, "schema_version": INTEGER,
        "status": STRING, "severity": STRING, "trigger": STRING, "rows_checked": maybe(INTEGER),
        "rows_failed": maybe(INTEGER), "nulls": maybe(INTEGER), "pass_ratio": maybe(NUMBER), "threshold": NUMBER,
        "observed": ANY, "sample": maybe(array(OBJECT)), "error": maybe(STRING), "started_at": INSTANT,
        "finished_at": maybe(INSTANT), "duration_s": maybe(NUMBER), "job_id": maybe(STRING),
    }),
    "ColumnProfile": shape("The figures of one column of a profile.", {
        "name": STRING, "type": STRING, "row_count": INTEGER, "null_count": INTEGER,
        "distinct_count": maybe(INTEGER), "distinct_approximate": BOOLEAN, "min": ANY, "max": ANY,
        "mean": maybe(NUMBER), "min_length": maybe(INTEGER), "max_length": maybe(INTEGER),
    }),
    "DatasetProfile": shape("One profiling of a dataset's data.", {
        "id": STRING, "dataset_id": STRING, "schema_version": INTEGER, "status": STRING,
        "row_count": maybe(INTEGER), "columns": array(ref("ColumnProfile")), "error": maybe(STRING),
        "started_at": INSTANT, "finished_at": maybe(INSTANT), "duration_s": maybe(NUMBER),
    }),
}

# (method, path under /api/v1) -> the schema of the route's full answer (an item's, for a list).
ANSWERS: dict[tuple[str, str], str] = {
    **{key: "Dataset" for key in (("GET", "/datasets"), ("POST", "/datasets"), ("GET", "/datasets/{id}"),
                                  ("PUT", "/datasets/{id}"))},
    **{key: "Pipeline" for key in (("GET", "/pipelines"), ("POST", "/pipelines"), ("GET", "/pipelines/{id}"),
                                   ("PUT", "/pipelines/{id}"))},
    **{key: "Job" for key in (("GET", "/jobs"), ("GET", "/jobs/{id}"), ("POST", "/pipelines/{id}/run"),
                              ("POST", "/jobs/{id}/cancel"))},
    **{key: "QualityRule" for key in (("GET", "/quality/rules"), ("POST", "/quality/rules"),
                                      ("GET", "/quality/rules/{id}"), ("PUT", "/quality/rules/{id}"),
                                      ("POST", "/quality/rules/{id}/enable"),
                                      ("POST", "/quality/rules/{id}/disable"))},
    **{key: "QualityResult" for key in (("POST", "/quality/rules/{id}/run"), ("GET", "/quality/rules/{id}/results"),
                                        ("GET", "/quality/results/{id}"), ("POST", "/quality/results/{id}/cancel"))},
    **{key: "DatasetProfile" for key in (("POST", "/datasets/{id}/profile"), ("GET", "/datasets/{id}/profile"),
                                         ("GET", "/quality/profiles/{id}"),
                                         ("POST", "/quality/profiles/{id}/cancel"))},
}


# Routes that answer 202 at once, or 200 with the finished object when asked to wait (`Prefer: wait=N`).
WAITED: dict[tuple[str, str], str] = {
    ("POST", "/quality/rules/{id}/run"): "With `Prefer: wait=N`: the result, finished unless N seconds passed",
    ("POST", "/datasets/{id}/profile"): "With `Prefer: wait=N`: the profile, finished unless N seconds passed",
}
