"""Profiling a dataset over REST and GraphQL: exact figures per column on a real file, last_profiled, scopes."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from server.models.quality import DatasetProfile
from tests.conftest import Caller, bearer
from tests.graphql.helpers import gql

PROFILE = """
mutation Profile($id: ID!) {
  profileDataset(datasetId: $id, waitSeconds: 60) {
    __typename ... on DatasetProfileSuccess { profile { status rowCount columns { name nullCount distinctCount } } }
  }
}"""


async def make_dataset(client, tmp_path) -> str:
    (tmp_path / "people.csv").write_text("id,name,score\n1,Ann,10.5\n2,Bob,\n3,Ann,4.5\n4,,20\n")
    resp = await client.post("/api/v1/datasets", json={"name": "people", "source": {
        "type": "file", "path": str(tmp_path / "people.csv")}})
    assert resp.status == 201, await resp.text()
    return (await resp.json())["id"]


async def test_profile_computes_exact_figures_and_sets_last_profiled(client, tmp_path):
    # given
    dataset_id = await make_dataset(client, tmp_path)
    never = await client.get(f"/api/v1/datasets/{dataset_id}/profile")
    # when
    resp = await client.post(f"/api/v1/datasets/{dataset_id}/profile", headers={"Prefer": "wait=60"})
    # then
    assert never.status == 404
    assert resp.status == 200, await resp.text()
    profile = await resp.json()
    assert profile["id"].startswith("dp_") and profile["status"] == "succeeded" and profile["row_count"] == 4
    columns = {column["name"]: column for column in profile["columns"]}
    assert list(columns) == ["id", "name", "score"]
    assert (columns["id"]["min"], columns["id"]["max"], columns["id"]["mean"]) == (1, 4, 2.5)
    assert (columns["name"]["null_count"], columns["name"]["distinct_count"]) == (1, 2)
    assert (columns["name"]["min_length"], columns["name"]["max_length"], columns["name"]["min"]) == (3, 3, "Ann")
    assert columns["score"]["null_count"] == 1 and columns["score"]["mean"] == 35 / 3
    assert all(column["distinct_approximate"] is False for column in profile["columns"])
    latest = await (await client.get(f"/api/v1/datasets/{dataset_id}/profile")).json()
    assert latest == profile
    dataset = await (await client.get(f"/api/v1/datasets/{dataset_id}")).json()
    assert dataset["last_profiled"] == profile["finished_at"]


async def test_profile_through_graphql(client, tmp_path):
    # given
    dataset_id = await make_dataset(client, tmp_path)
    # when
    body = await gql(client, PROFILE, {"id": dataset_id})
    # then
    profile = body["data"]["profileDataset"]["profile"]
    assert profile["status"] == "succeeded" and profile["rowCount"] == 4
    assert [(c["name"], c["nullCount"], c["distinctCount"]) for c in profile["columns"]] == [
        ("id", 0, 4), ("name", 1, 2), ("score", 1, 3)]


async def test_a_missing_file_fails_the_profile_and_other_workspaces_get_404(client, credentials, tmp_path):
    # given
    dataset_id = await make_dataset(client, tmp_path)
    (tmp_path / "people.csv").unlink()
    other = Caller(client.http, bearer(credentials["other"]))
    # when
    failed = await (await client.post(f"/api/v1/datasets/{dataset_id}/profile", headers={"Prefer": "wait=60"})).json()
    foreign = await other.post(f"/api/v1/datasets/{dataset_id}/profile")
    # then
    assert failed["status"] == "failed" and failed["error"]
    assert foreign.status == 404
    assert (await (await client.get(f"/api/v1/datasets/{dataset_id}")).json())["last_profiled"] is None


async def test_profiling_needs_read_datasets(client, tmp_path):
    # given
    dataset_id = await make_dataset(client, tmp_path)
    made = await client.post("/api/v1/workspaces/ws_default/keys", json={
        "name": "quality-only", "scopes": ["read:quality", "write:quality"]})
    quality_only = Caller(client.http, bearer((await made.json())["key"]))
    # when
    started = await quality_only.post(f"/api/v1/datasets/{dataset_id}/profile")
    read = await quality_only.get(f"/api/v1/datasets/{dataset_id}/profile")
    # then
    assert started.status == 403 and read.status == 403


CANCEL_PROFILE = """
mutation Cancel($id: ID!) {
  cancelProfile(profileId: $id) {
    __typename ... on DatasetProfileSuccess { profile { id status } } ... on Error { code }
  }
}"""


async def wait_profile_status(caller, profile_id: str, status: str) -> dict:
    """Poll the profile run until it has `status` (a real condition, bounded)."""
    for _ in range(400):
        profile = await (await caller.get(f"/api/v1/quality/profiles/{profile_id}")).json()
        if profile["status"] == status:
            return profile
        await asyncio.sleep(0.05)
    raise AssertionError(f"profile {profile_id} never became {status}")


async def test_an_unclaimed_profile_is_cancelled_at_once_and_a_finished_one_conflicts(start_app, settings, tmp_path):
    # given an app that runs no jobs: the profile stays unclaimed
    admin = await start_app(replace(settings, run_jobs=False, run_schedules=False))
    dataset_id = await make_dataset(admin, tmp_path)
    started = await (await admin.post(f"/api/v1/datasets/{dataset_id}/profile")).json()
    # when
    cancelled = await admin.post(f"/api/v1/quality/profiles/{started['id']}/cancel")
    again = await gql(admin, CANCEL_PROFILE, {"id": started["id"]})
    missing = await admin.post("/api/v1/quality/profiles/dp_missing/cancel")
    # then
    assert started["status"] == "running"
    assert cancelled.status == 202 and (await cancelled.json())["status"] == "cancelled"
    assert again["data"]["cancelProfile"] == {"__typename": "ConflictError", "code": "CONFLICT"}
    assert missing.status == 404
    assert (await admin.get(f"/api/v1/datasets/{dataset_id}/profile")).status == 404


async def test_a_claimed_profile_is_cancelled_in_the_process_that_runs_it(start_app, settings, tmp_path):
    # given a running profile claimed by a process that then died (its lease lapsed)
    quiet = await start_app(replace(settings, run_jobs=False, run_schedules=False))
    dataset_id = await make_dataset(quiet, tmp_path)
    started = await (await quiet.post(f"/api/v1/datasets/{dataset_id}/profile")).json()
    await DatasetProfile.filter(id=started["id"]).update(
        runner="gone", lease_expires_at=datetime.now(UTC) - timedelta(seconds=1))
    # when the cancel is asked through GraphQL, then a worker takes the run over
    asked = await gql(quiet, CANCEL_PROFILE, {"id": started["id"]})
    worker = await start_app(replace(settings, run_jobs=True, run_schedules=False))
    # then the claimed run was still running when asked, and the worker stops it instead of profiling
    assert asked["data"]["cancelProfile"]["profile"]["status"] == "running"
    profile = await wait_profile_status(worker, started["id"], "cancelled")
    assert profile["row_count"] is None and profile["finished_at"] is not None
    assert (await (await quiet.get(f"/api/v1/datasets/{dataset_id}")).json())["last_profiled"] is None
