"""REST: every scope a route needs is checked before any effect; write-only keys get an acknowledgement.

Each test performs the request with a narrow key, then reads the state back as admin: a refusal
changed nothing, an acknowledged write changed exactly what it says, and no object leaked.
"""

from __future__ import annotations

import pytest

from server.app import REST_ROUTES
from tests.auth.world import World, build_world


@pytest.fixture
async def world(start_app, settings, tmp_path) -> World:
    return await build_world(start_app, settings, tmp_path)


async def _pipeline(world: World) -> dict:
    return await world.get(f"/api/v1/pipelines/{world.pipeline_id}")


async def test_update_pipeline_without_read_answers_id_and_version_only(world: World):
    # when
    resp = await world.keys["pipeline_writer"].put(f"/api/v1/pipelines/{world.pipeline_id}",
                                                   json={"description": "changed"})
    # then
    assert resp.status == 200, await resp.text()
    assert await resp.json() == {"id": world.pipeline_id, "version": 2}
    assert resp.headers["ETag"] == f'"{world.pipeline_id}.2"'
    after = await _pipeline(world)
    assert (after["version"], after["description"]) == (2, "changed")


async def test_create_pipeline_without_read_answers_id_and_version_only(world: World):
    resp = await world.keys["pipeline_writer"].post("/api/v1/pipelines", json={
        "name": "second", "steps": world.steps("second.csv")})
    body = await resp.json()
    assert resp.status == 201
    assert set(body) == {"id", "version"} and body["version"] == 1
    assert resp.headers["Location"] == f"/api/v1/pipelines/{body['id']}"
    assert (await world.get(f"/api/v1/pipelines/{body['id']}"))["name"] == "second"


async def test_schedule_pause_and_resume_without_read_answer_the_paused_state_only(world: World):
    writer = world.keys["pipeline_writer"]
    base = f"/api/v1/pipelines/{world.pipeline_id}/schedule"
    # when
    set_ = await writer.post(base, json={"cron": "30 4 * * *", "timezone": "Europe/Paris"})
    # setting it answers what any write of a pipeline does without read: its id and version
    assert set_.status == 200 and await set_.json() == {"id": world.pipeline_id, "version": 1}
    assert (await _pipeline(world))["schedule"]["cron"] == "30 4 * * *"
    paused = await writer.post(f"{base}/pause")
    assert paused.status == 200 and await paused.json() == {"pipeline_id": world.pipeline_id, "paused": True}
    assert (await _pipeline(world))["schedule"]["paused"] is True
    resumed = await writer.post(f"{base}/resume")
    # then
    assert resumed.status == 200 and await resumed.json() == {"pipeline_id": world.pipeline_id, "paused": False}
    assert (await _pipeline(world))["schedule"]["paused"] is False


async def test_run_without_read_jobs_answers_id_and_status_only(world: World):
    # given
    before = await world.jobs()
    # when
    resp = await world.keys["pipeline_writer"].post(f"/api/v1/pipelines/{world.pipeline_id}/run")
    # then
    body = await resp.json()
    assert resp.status == 202
    assert body == {"id": body["id"], "status": "pending"}
    assert resp.headers["Location"] == f"/api/v1/jobs/{body['id']}"
    assert [job["id"] for job in await world.jobs()] == [body["id"]] + [job["id"] for job in before]


async def test_cancel_without_read_jobs_answers_id_and_status_only(world: World):
    resp = await world.keys["pipeline_writer"].post(f"/api/v1/jobs/{world.job_id}/cancel")
    assert resp.status == 202
    assert await resp.json() == {"id": world.job_id, "status": "cancelled"}
    assert (await world.get(f"/api/v1/jobs/{world.job_id}"))["status"] == "cancelled"


async def test_dataset_writes_without_read_answer_id_status_and_revision_only(world: World):
    writer = world.keys["dataset_writer"]
    # when the dataset is updated, a schema stored, and another dataset created
    updated = await writer.put(f"/api/v1/datasets/{world.dataset_id}", json={"description": "new"})
    schema = await writer.put(f"/api/v1/datasets/{world.dataset_id}/schema", json={"fields": [
        {"name": "id", "type": "integer", "nullable": True}]})
    created = await writer.post("/api/v1/datasets", json={"name": "more", "source": {
        "type": "file", "path": str(world.folder / "more.csv")}})
    # then each answers an acknowledgement, and the writes happened
    assert updated.status == 200 and await updated.json() == {"id": world.dataset_id, "status": "active",
                                                             "revision": 2}
    assert schema.status == 200 and await schema.json() == {"dataset_id": world.dataset_id, "version": 2,
                                                           "revision": 3}
    body = await created.json()
    assert created.status == 201 and set(body) == {"id", "status", "revision"}
    stored = await world.admin.get(f"/api/v1/datasets/{world.dataset_id}")
    assert (await stored.json())["description"] == "new"
    assert stored.headers["ETag"] == f'"{world.dataset_id}.3"'
    assert (await world.get(f"/api/v1/datasets/{world.dataset_id}/schema"))["version"] == 2
    assert (await world.get(f"/api/v1/datasets/{body['id']}"))["name"] == "more"


async def test_a_key_with_the_read_scope_still_gets_the_whole_object(world: World):
    resp = await world.admin.put(f"/api/v1/pipelines/{world.pipeline_id}", json={"description": "full"})
    body = await resp.json()
    assert body["description"] == "full" and body["schedule"]["cron"] == "0 2 * * *"


async def test_refused_writes_change_nothing(world: World):
    # given
    jobs_before = await world.jobs()
    pipeline_before = await _pipeline(world)
    dataset_before = await world.get(f"/api/v1/datasets/{world.dataset_id}")
    # when keys lacking the write (or run) scope try every effect
    attempts = [
        (world.keys["pipeline_reader"], "PUT", f"/api/v1/pipelines/{world.pipeline_id}", {"description": "x"},
         "write:pipelines"),
        (world.keys["pipeline_reader"], "POST", f"/api/v1/pipelines/{world.pipeline_id}/schedule/pause", None,
         "write:pipelines"),
        (world.keys["writer_only"], "POST", f"/api/v1/pipelines/{world.pipeline_id}/run", None, "run:pipelines"),
        (world.keys["job_reader"], "POST", f"/api/v1/jobs/{world.job_id}/cancel", None, "run:pipelines"),
        (world.keys["pipeline_writer"], "PUT", f"/api/v1/datasets/{world.dataset_id}", {"description": "x"},
         "write:datasets"),
        (world.keys["dataset_writer"], "DELETE", f"/api/v1/pipelines/{world.pipeline_id}", None,
         "write:pipelines"),
    ]
    for caller, method, path, body, scope in attempts:
        resp = await caller.request(method, path, json=body)
        # then each is a 403 naming the missing scope
        assert resp.status == 403, (method, path, resp.status)
        assert (await resp.json())["error"]["details"]["required_scope"] == scope
    # and nothing changed: no job created or cancelled, pipeline and dataset as they were
    assert await world.jobs() == jobs_before
    assert await _pipeline(world) == pipeline_before
    assert await world.get(f"/api/v1/datasets/{world.dataset_id}") == dataset_before


async def test_openapi_names_the_scope_of_the_full_response(world: World):
    document = await world.get("/api/v1/openapi.json")
    run = document["paths"]["/api/v1/pipelines/{id}/run"]["post"]
    assert (run["x-required-scope"], run["x-full-response-scope"]) == ("run:pipelines", "read:jobs")


def test_every_effectful_route_names_the_scope_of_its_full_response():
    writes = [route for route in REST_ROUTES if route.method in {"POST", "PUT", "PATCH"} and route.status != 204
              and route.scope not in (None, "admin") and not route.scope.startswith("read:")]
    assert len(writes) >= 9
    assert [(r.method, r.path) for r in writes if r.read_scope is None] == []
