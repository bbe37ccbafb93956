"""A pipeline saved before step ids were bounded is refused by name when run, never a 500."""

from __future__ import annotations

from server.models.engine import Job, Pipeline
from tests.rest.test_pipelines import make_dataset

RUN_PIPELINE = """mutation($id: ID!) { runPipeline(pipelineId: $id) { __typename
  ... on ValidationError { code field } } }"""


async def legacy_pipeline(client, tmp_path) -> str:
    dataset_id = await make_dataset(client, tmp_path)
    resp = await client.post("/api/v1/pipelines", json={"name": "legacy", "steps": [
        {"id": "input", "type": "data_source", "config": {"dataset_id": dataset_id}},
        {"id": "clean", "type": "data_cleaner", "config": {"trim": True}}]})
    assert resp.status == 201, await resp.text()
    pipeline_id = (await resp.json())["id"]
    # Written as an older server saved it, past today's check at save.
    row = await Pipeline.get(id=pipeline_id)
    steps = [row.steps[0], {**row.steps[1], "id": "c" * 300}]
    await Pipeline.filter(id=pipeline_id).update(steps=steps)
    return pipeline_id


async def test_running_a_pipeline_with_an_over_long_step_id_is_a_validation_error(client, tmp_path):
    # given
    pipeline_id = await legacy_pipeline(client, tmp_path)
    # when
    resp = await client.post(f"/api/v1/pipelines/{pipeline_id}/run")
    # then
    assert resp.status == 400, await resp.text()
    error = (await resp.json())["error"]
    assert error["code"] == "VALIDATION_ERROR" and error["details"]["field"] == "steps[1].id"
    assert len(error["details"]["step_id"]) <= 100
    assert await Job.filter(pipeline_id=pipeline_id).count() == 0


async def test_graphql_run_pipeline_answers_the_same_validation_error(client, tmp_path):
    # given
    pipeline_id = await legacy_pipeline(client, tmp_path)
    # when
    resp = await client.post("/graphql", json={"query": RUN_PIPELINE, "variables": {"id": pipeline_id}})
    # then
    result = (await resp.json())["data"]["runPipeline"]
    assert result == {"__typename": "ValidationError", "code": "VALIDATION_ERROR", "field": "steps[1].id"}
    assert await Job.filter(pipeline_id=pipeline_id).count() == 0
