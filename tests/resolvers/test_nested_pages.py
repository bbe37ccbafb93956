"""Nested connections paged for many parents at once give each parent exactly the page it gets alone.

The batched loaders (`schema_histories`, `versions_of_pipelines`, `jobs_of_pipelines`) are compared with
the per-parent functions (`schema_history`, `pipeline_versions`, `list_jobs`) on parents with 0 to 12 rows,
rows sharing a timestamp, every cursor either side hands out, offsets, a deleted pipeline, parents and rows
of another workspace, and malformed input.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from resolvers import datasets, jobs, pipelines
from resolvers.errors import DoccError, Forbidden
from resolvers.pagination import PageRequest, encode_cursor
from resolvers.principal import ADMIN_SCOPE, Principal
from server.models.base import new_id
from server.models.datasets import Dataset, SchemaVersion
from server.models.engine import Job, JobStep, Pipeline, PipelineVersion

WS, OTHER = "ws_default", "ws_other"
ADMIN = Principal(subject="tests", workspace_id=WS, scopes=frozenset({ADMIN_SCOPE}))
COUNTS = (0, 1, 3, 7, 12)
BASE = datetime(2026, 1, 1, tzinfo=UTC)
STEPS = [{"id": "input", "type": "data_source", "config": {}}]


def at(i: int) -> datetime:
    # Rows come in pairs with the same time: their order (and their cursors) rest on the id.
    return BASE + timedelta(minutes=i // 2)


@dataclass
class Rows:
    datasets: list[str]
    pipelines: list[str]
    deleted: str
    cursors: list[str]


async def write_rows() -> Rows:
    """Datasets and pipelines of ws_default with COUNTS rows each, a deleted pipeline, and parents of another
    workspace (with rows), plus jobs of the other workspace that name a ws_default pipeline."""
    made: list[Any] = []
    dataset_ids, pipeline_ids = [], []
    for n, workspace in [*((n, WS) for n in COUNTS), (4, OTHER)]:
        dataset = await Dataset.create(id=new_id("ds"), workspace_id=workspace, name=f"d{len(dataset_ids)}",
                                       source_type="file", source={"type": "file", "path": "/data/x.csv"},
                                       schema_fields=[], tags=[])
        dataset_ids.append(dataset.id)
        made += [SchemaVersion(id=new_id("sv"), workspace_id=workspace, dataset_id=dataset.id, version=i + 1,
                               schema_fields=[], compatibility="NONE", created_by="t", created_at=at(i))
                 for i in range(n)]
    for n, workspace, deleted in [*((n, WS, None) for n in COUNTS), (3, WS, BASE), (2, OTHER, None)]:
        pipeline = await Pipeline.create(id=new_id("pl"), workspace_id=workspace, name=f"p{len(pipeline_ids)}",
                                         steps=STEPS, deleted_at=deleted)
        pipeline_ids.append(pipeline.id)
        made += [PipelineVersion(id=new_id("pv"), pipeline_id=pipeline.id, version=i + 1, name="p", steps=STEPS,
                                 created_by="t", created_at=at(i)) for i in range(n)]
        made += [Job(id=new_id("job"), workspace_id=workspace, pipeline_id=pipeline.id, pipeline_version=1,
                     steps=STEPS, status="succeeded", created_at=at(i), updated_at=at(i)) for i in range(n + 2)]
    # Rows of another workspace naming a ws_default pipeline: never part of its jobs.
    made += [Job(id=new_id("job"), workspace_id=OTHER, pipeline_id=pipeline_ids[3], pipeline_version=1, steps=STEPS,
                 created_at=at(i), updated_at=at(i)) for i in range(3)]
    for model in (SchemaVersion, PipelineVersion, Job):
        await model.bulk_create([row for row in made if isinstance(row, model)])
    await JobStep.bulk_create([JobStep(job_id=row.id, position=0, step_id="input", type="data_source",
                                       status="succeeded") for row in made if isinstance(row, Job)])
    return Rows(dataset_ids, [*pipeline_ids[:-2], pipeline_ids[-1]], pipeline_ids[-2],
                [encode_cursor(row) for row in made])


Single = Callable[[Principal, str, PageRequest], Awaitable[Any]]
Batched = Callable[[Principal, list[tuple[str, PageRequest]]], Awaitable[list[Any]]]


async def _alone(single: Single, parent_id: str, request: PageRequest) -> Any:
    try:
        return await single(ADMIN, parent_id, request)
    except DoccError as error:
        return error


def _same(found: Any, expected: Any) -> bool:
    if isinstance(expected, DoccError):
        return (type(found), found.message, found.details) == (type(expected), expected.message, expected.details)
    return found == expected


async def _requests(single: Single, parent_ids: list[str], cursors: list[str]) -> list[PageRequest]:
    """First pages of several sizes, every cursor those pages hand out, every row's cursor, and offsets."""
    requests = [PageRequest(limit=limit) for limit in (1, 2, 5, 100)]
    requests += [PageRequest(limit=3, offset=offset) for offset in (1, 4, 30)]
    for parent_id in parent_ids:
        for limit in (1, 2, 5):
            page = await _alone(single, parent_id, PageRequest(limit=limit))
            while not isinstance(page, DoccError) and page.has_next:
                request = PageRequest(limit=limit, after=encode_cursor(page.items[-1]))
                requests.append(request)
                page = await _alone(single, parent_id, request)
    requests += [PageRequest(limit=2, after=cursor) for cursor in cursors]
    return list(dict.fromkeys(requests))


def _list_jobs(principal: Principal, pipeline_id: str, request: PageRequest) -> Awaitable[Any]:
    return jobs.list_jobs(principal, jobs.JobFilter(pipeline_id=pipeline_id), request)


CASES: dict[str, tuple[Single, Batched]] = {
    "schema history": (datasets.schema_history, datasets.schema_histories),
    "pipeline versions": (pipelines.pipeline_versions, pipelines.versions_of_pipelines),
    "pipeline jobs": (_list_jobs, jobs.jobs_of_pipelines),
}


def _parents(name: str, rows: Rows) -> list[str]:
    if name == "schema history":
        return [*rows.datasets, "ds_missing", "../not-an-id"]
    # A malformed pipeline id is refused by the jobs filter itself before any page is asked for.
    return [*rows.pipelines, rows.deleted, "pl_missing", *([] if name == "pipeline jobs" else ["../not-an-id"])]


@pytest.mark.parametrize("name", list(CASES))
async def test_each_parent_gets_the_page_it_gets_alone(db, name):
    # given parents with 0 to 12 rows (and missing, deleted and foreign ones), and every page worth asking for
    rows = await write_rows()
    single, batched = CASES[name]
    parents = _parents(name, rows)
    requests = await _requests(single, parents, rows.cursors)
    keys = [(parent_id, request) for request in requests for parent_id in parents]
    expected = [await _alone(single, parent_id, request) for parent_id, request in keys]
    # when
    found = await batched(ADMIN, keys)
    # then
    wrong = [(key, got, want) for key, got, want in zip(keys, found, expected, strict=True) if not _same(got, want)]
    assert wrong == []
    # and the comparison saw pages of every kind
    pages = [page for page in expected if not isinstance(page, DoccError)]
    assert {page.has_next for page in pages} == {page.has_previous for page in pages} == {True, False}
    assert len({page.total for page in pages}) >= len(COUNTS) and any(not page.items and page.total for page in pages)


@pytest.mark.parametrize("name", list(CASES))
async def test_a_bad_cursor_fails_only_the_connections_that_carry_it(db, name):
    # given
    rows = await write_rows()
    single, batched = CASES[name]
    parent = rows.datasets[3] if name == "schema history" else rows.pipelines[3]
    good, bad = PageRequest(limit=2), PageRequest(limit=2, after="bm90IGEgY3Vyc29y")
    # when
    found = await batched(ADMIN, [(parent, good), (parent, bad)])
    # then
    assert found[0] == await single(ADMIN, parent, good)
    assert (found[1].code, found[1].details) == ("VALIDATION_ERROR", {"field": "after",
                                                                      "reason": "Not a cursor returned by this server"})


@pytest.mark.parametrize("name", list(CASES))
async def test_a_caller_without_the_read_scope_is_refused(db, name):
    # given a key holding some other scope
    _, batched = CASES[name]
    principal = Principal(subject="tests", workspace_id=WS, scopes=frozenset({"read:quality"}))
    # when / then
    with pytest.raises(Forbidden):
        await batched(principal, [("pl_x", PageRequest())])


async def test_another_workspace_sees_its_own_rows_only(db):
    # given
    rows = await write_rows()
    other = Principal(subject="tests", workspace_id=OTHER, scopes=frozenset({ADMIN_SCOPE}))
    ours, theirs = rows.pipelines[3], rows.pipelines[-1]
    # when
    found = await jobs.jobs_of_pipelines(other, [(ours, PageRequest(limit=100)), (theirs, PageRequest(limit=100))])
    versions = await pipelines.versions_of_pipelines(other, [(ours, PageRequest()), (theirs, PageRequest())])
    # then: of our pipeline, only the jobs of its own workspace that name it; its versions do not exist for it
    assert [page.total for page in found] == [3, 4]
    assert {job.pipeline_id for job in found[0].items} == {ours}
    assert (versions[0].code, versions[1].total) == ("NOT_FOUND", 2)
