"""Rows for read tests, written in bulk through the ORM: N of everything a list can return."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server.models.access import ApiKey, OAuthClient, OAuthClientSecret
from server.models.base import new_id
from server.models.datasets import Dataset, DatasetTag, SchemaVersion
from server.models.engine import Job, JobLog, JobStep, Pipeline, PipelineVersion, Schedule
from server.models.quality import QualityResult, QualityRule

WS = "ws_default"
FIELDS = [{"name": f"c{i}", "type": "string", "nullable": True} for i in range(8)]


async def write_rows(n: int) -> dict[str, str]:
    """N datasets (tags, N schema versions on the first), N pipelines (schedules, N versions and N jobs on the
    first), N more jobs (steps and log lines), N keys and N OAuth clients; returns the ids that own the N-lists."""
    base = datetime(2026, 1, 1, tzinfo=UTC)
    at = [base + timedelta(minutes=i) for i in range(2 * n)]
    datasets = [Dataset(id=new_id("ds"), workspace_id=WS, name=f"d{i}", source_type="file",
                        source={"type": "file", "path": f"/data/d{i}.csv", "format": "csv"},
                        schema_fields=FIELDS, tags=["a", "b"], created_at=at[i], updated_at=at[i]) for i in range(n)]
    await Dataset.bulk_create(datasets)
    await DatasetTag.bulk_create([DatasetTag(workspace_id=WS, dataset_id=d.id, tag=t) for d in datasets
                                  for t in ("a", "b")])
    await SchemaVersion.bulk_create([SchemaVersion(id=new_id("sv"), workspace_id=WS, dataset_id=datasets[0].id,
                                                   version=i + 1, schema_fields=FIELDS, compatibility="NONE",
                                                   created_by="t", created_at=at[i]) for i in range(n)])
    pipelines = [Pipeline(id=new_id("pl"), workspace_id=WS, name=f"p{i}", created_at=at[i], updated_at=at[i],
                          steps=[{"id": "input", "type": "data_source", "config": {"dataset_id": datasets[i].id}},
                                 {"id": "out", "type": "data_sink", "config": {"path": f"/data/o{i}.csv"}}])
                 for i in range(n)]
    await Pipeline.bulk_create(pipelines)
    await Schedule.bulk_create([Schedule(id=new_id("sch"), workspace_id=WS, pipeline_id=p.id, cron="0 * * * *",
                                         paused=True) for p in pipelines])
    first = pipelines[0]
    await PipelineVersion.bulk_create([PipelineVersion(id=new_id("pv"), pipeline_id=first.id, version=i + 1,
                                                       name=first.name, steps=first.steps, created_by="t")
                                       for i in range(n)])
    jobs = [Job(id=new_id("job"), workspace_id=WS, pipeline_id=(first if i % 2 else pipelines[i % n]).id,
                pipeline_version=1, steps=first.steps, status="succeeded", started_at=at[i], finished_at=at[i],
                created_at=at[i], updated_at=at[i]) for i in range(2 * n)]
    await Job.bulk_create(jobs)
    await JobStep.bulk_create([JobStep(job_id=j.id, position=k, step_id=s["id"], type=s["type"], status="succeeded")
                               for j in jobs for k, s in enumerate(first.steps)])
    await JobLog.bulk_create([JobLog(job_id=jobs[0].id, seq=i + 1, time=at[i], level="INFO", message=f"line {i}")
                              for i in range(n)])
    await ApiKey.bulk_create([ApiKey(id=new_id("key"), workspace_id=WS, name=f"k{i}", prefix="docc_x",
                                     key_hash=f"{i:064d}", scopes=["read:datasets"]) for i in range(n)])
    clients = [OAuthClient(id=new_id("cli"), workspace_id=WS, name=f"c{i}", scopes=["read:datasets"])
               for i in range(n)]
    await OAuthClient.bulk_create(clients)
    await OAuthClientSecret.bulk_create([OAuthClientSecret(id=new_id("sec"), client_id=c.id, prefix="x",
                                                           secret_hash=f"{i:064d}") for i, c in enumerate(clients)])
    # Two rules per dataset, each with an older and a newer finished result (the newer is the latest).
    rules = [QualityRule(id=new_id("qr"), workspace_id=WS, dataset_id=d.id, name=f"r{i}{k}", rule_type="not_null",
                         config={"column": "c0"}, severity="warning", created_at=at[i], updated_at=at[i])
             for i, d in enumerate(datasets) for k in range(2)]
    results = [QualityResult(id=new_id("qres"), workspace_id=WS, rule_id=r.id, dataset_id=r.dataset_id,
                             rule_version=1, schema_version=1, severity="warning", status=status, threshold=1.0,
                             rows_checked=10, rows_failed=0 if status == "passed" else 1, started_at=at[k],
                             finished_at=at[k], created_at=at[k], updated_at=at[k])
               for r in rules for k, status in enumerate(("failed", "passed"))]
    for rule in rules:
        rule.latest_status, rule.latest_result_id = "passed", results[2 * rules.index(rule) + 1].id
    await QualityRule.bulk_create(rules)
    await QualityResult.bulk_create(results)
    return {"dataset": datasets[0].id, "pipeline": first.id, "job": jobs[0].id}
