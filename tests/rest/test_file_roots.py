"""DOCC_FILE_ROOTS confines file sources and sinks (and SQLite files) to allowed directories."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest

from server.engine.dataplane import DataPlaneConfigError, file_roots
from server.engine.dataplane.sources import open_source


@pytest.fixture
def roots(tmp_path):
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "in.csv").write_text("id\n1\n")
    (tmp_path / "secret.csv").write_text("id\n42\n")
    os.symlink(tmp_path / "secret.csv", allowed / "sneaky.csv")
    return allowed


@pytest.fixture
async def confined(start_app, settings, roots):
    return await start_app(replace(settings, file_roots=(str(roots),)))


async def create(client, source):
    return await client.post("/api/v1/datasets", json={"name": "files", "source": source})


async def test_sources_inside_the_roots_are_accepted(confined, roots):
    resp = await create(confined, {"type": "file", "path": str(roots / "in.csv")})
    assert resp.status == 201


@pytest.mark.parametrize(("source", "field"), [
    ({"type": "file", "path": "/etc/passwd.csv"}, "source.path"),
    ({"type": "file", "path": "{roots}/../secret.csv"}, "source.path"),
    ({"type": "file", "path": "{roots}/sneaky.csv"}, "source.path"),
    ({"type": "database", "connection": "sqlite:////tmp/elsewhere.db", "table": "t"}, "source.connection"),
])
async def test_paths_outside_the_roots_are_refused(confined, roots, source, field):
    # given
    source = {k: v.format(roots=roots) if isinstance(v, str) else v for k, v in source.items()}
    # when
    resp = await create(confined, source)
    # then
    assert resp.status == 400
    error = (await resp.json())["error"]
    assert error["details"] == {"field": field, "reason": "Outside the allowed file roots (DOCC_FILE_ROOTS)"}


async def test_pipeline_sinks_outside_the_roots_are_refused(confined, roots):
    # given
    dataset = await (await create(confined, {"type": "file", "path": str(roots / "in.csv")})).json()
    steps = [{"id": "read", "type": "data_source", "config": {"dataset_id": dataset["id"]}},
             {"id": "write", "type": "data_sink", "config": {"path": "/tmp/stolen.csv"}}]
    # when
    resp = await confined.post("/api/v1/pipelines", json={"name": "leak", "steps": steps})
    # then
    assert resp.status == 400
    assert (await resp.json())["error"]["details"]["field"] == "steps[1].config.path"


async def test_a_job_rechecks_its_files_when_it_opens_them(confined, roots):
    # given the roots active in the running app, and a source saved before they were set
    assert file_roots() == (str(roots.resolve()),)
    outside = {"type": "file", "path": str(roots.parent / "secret.csv"), "format": "csv"}
    # when / then
    with pytest.raises(DataPlaneConfigError) as caught:
        open_source(outside, None)
    assert caught.value.field == "source.path"
