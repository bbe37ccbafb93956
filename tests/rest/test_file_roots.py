"""Files are confined: DOCC_FILE_ROOTS (by default DOCC_DATA_DIR) bounds every file and SQLite path, and the
server's own database and files are refused however they are spelled, at save and again when a job opens them."""

from __future__ import annotations

import os
import stat
from dataclasses import replace

import pytest

from server.models.datasets import Dataset
from server.models.engine import JobLog
from tests.rest.test_pipelines import wait_job

OUTSIDE = "Outside the allowed file roots (DOCC_FILE_ROOTS)"
OWN = "The server's own files cannot be used"


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


async def create(client, source, name="files"):
    return await client.post("/api/v1/datasets", json={"name": name, "source": source})


async def refusal(resp) -> dict:
    assert resp.status == 400, await resp.text()
    error = (await resp.json())["error"]
    assert error["code"] == "VALIDATION_ERROR"
    return error["details"]


async def test_sources_inside_the_roots_are_accepted(confined, roots):
    resp = await create(confined, {"type": "file", "path": str(roots / "in.csv")})
    assert resp.status == 201


@pytest.mark.parametrize(("source", "field"), [
    ({"type": "file", "path": "/etc/passwd.csv"}, "source.path"),
    ({"type": "file", "path": "{roots}/../secret.csv"}, "source.path"),
    ({"type": "file", "path": "{roots}/sneaky.csv"}, "source.path"),
    ({"type": "database", "connection": "sqlite:////tmp/elsewhere.db", "table": "t"}, "source.connection"),
    ({"type": "database", "connection": "sqlite:///file:../elsewhere.db", "table": "t"}, "source.connection"),
    ({"type": "database", "connection": "sqlite:///file:/tmp/outside.db", "table": "t"}, "source.connection"),
    ({"type": "database", "connection": "sqlite:///file:///tmp/outside.db?mode=ro", "table": "t"},
     "source.connection"),
    ({"type": "database", "connection": "sqlite:///file:{roots}/../outside.db", "table": "t"}, "source.connection"),
    ({"type": "database", "connection": "sqlite:///file:{roots}/%2E%2E/outside.db", "table": "t"},
     "source.connection"),
    ({"type": "database", "connection": "sqlite:////{roots}/../x.db?mode=ro", "table": "t"}, "source.connection"),
])
async def test_paths_outside_the_roots_are_refused(confined, roots, source, field):
    # given
    source = {k: v.format(roots=roots) if isinstance(v, str) else v for k, v in source.items()}
    # when
    resp = await create(confined, source)
    # then
    assert await refusal(resp) == {"field": field, "reason": OUTSIDE}


@pytest.mark.parametrize("connection", [
    "sqlite:///file:{roots}/x.db?vfs=unix-none", "sqlite:///file:{roots}/x.db?immutable=1",
    "sqlite:///file:{roots}/x.db?mode=memory", "sqlite:///file://otherhost/{roots}/x.db",
])
async def test_sqlite_uri_options_that_change_how_a_file_is_opened_are_refused(confined, roots, connection):
    resp = await create(confined, {"type": "database", "connection": connection.format(roots=roots), "table": "t"})
    details = await refusal(resp)
    assert details["field"] == "source.connection" and details["reason"] == "Invalid connection string format"


async def test_pipeline_sinks_outside_the_roots_are_refused(confined, roots):
    # given
    dataset = await (await create(confined, {"type": "file", "path": str(roots / "in.csv")})).json()
    for path in ("/tmp/stolen.csv", f"{roots}/../stolen.csv", f"{roots}/sub/../../stolen.csv"):
        steps = [{"id": "read", "type": "data_source", "config": {"dataset_id": dataset["id"]}},
                 {"id": "write", "type": "data_sink", "config": {"path": path}}]
        # when
        resp = await confined.post("/api/v1/pipelines", json={"name": "leak", "steps": steps})
        # then
        assert await refusal(resp) == {"field": "steps[1].config.path", "reason": OUTSIDE}
    assert not (roots.parent / "stolen.csv").exists()


@pytest.mark.parametrize("path", ["{roots}", "{roots}/", "{roots}/.", "{roots}/sub", "{roots}/sub/"])
async def test_a_sink_or_source_naming_a_directory_is_refused(confined, roots, path):
    # given a folder inside the roots; a sink on the root itself would stage its file in the root's parent
    (roots / "sub").mkdir()
    dataset = await (await create(confined, {"type": "file", "path": str(roots / "in.csv")})).json()
    steps = [{"id": "read", "type": "data_source", "config": {"dataset_id": dataset["id"]}},
             {"id": "write", "type": "data_sink", "config": {"path": path.format(roots=roots), "format": "csv"}}]
    # when
    sink = await confined.post("/api/v1/pipelines", json={"name": "onto_a_folder", "steps": steps})
    source = await create(confined, {"type": "file", "path": path.format(roots=roots), "format": "csv"}, "folder")
    # then
    reason = "Must name a file inside a file root, not a directory"
    assert await refusal(sink) == {"field": "steps[1].config.path", "reason": reason}
    assert await refusal(source) == {"field": "source.path", "reason": reason}


async def test_a_path_component_longer_than_a_file_name_may_be_is_refused(confined, roots):
    resp = await create(confined, {"type": "file", "path": f"{roots}/{'a' * 300}.csv"})
    assert await refusal(resp) == {"field": "source.path", "reason": "Invalid file path"}


async def test_by_default_files_are_confined_to_the_data_folder_it_creates(start_app, settings, tmp_path):
    # given a server with no DOCC_FILE_ROOTS and a data folder that does not exist yet
    data_dir = tmp_path / "fresh-data"
    client = await start_app(replace(settings, file_roots=(), data_dir=str(data_dir)))
    # then the folder was created for the server alone
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    # and /etc/passwd is out of reach, while a file in the data folder is fine
    details = await refusal(await create(client, {"type": "file", "path": "/etc/passwd", "format": "csv"}))
    assert details == {"field": "source.path", "reason": OUTSIDE}
    assert (await create(client, {"type": "file", "path": str(data_dir / "in.csv")})).status == 201


def own_spellings(db: str, tmp_path) -> list[str]:
    """The server's own SQLite file, named every way SQLite accepts."""
    link, hard = tmp_path / "alias.db", tmp_path / "hard.db"
    os.symlink(db, link)
    os.link(db, hard)
    relative = os.path.relpath(db)
    return [
        f"sqlite:///{db}", f"sqlite:///{relative}", f"sqlite:///file:{db}", f"sqlite:///file:{relative}",
        f"sqlite:///file:{db}?mode=ro", f"sqlite:///{db}?mode=ro", f"sqlite:///file://localhost{db}",
        f"sqlite:///file:{db.replace('/', '/./')}", f"sqlite:///file:{db.replace('docc', '%64occ')}",
        f"sqlite:///{tmp_path}/x/../docc.db", f"sqlite:///{link}", f"sqlite:///file:{hard}?mode=ro",
        f"sqlite:///{db}-wal", f"sqlite:///{db}-journal",
    ]


async def test_the_servers_own_sqlite_file_is_refused_by_every_spelling(client, settings, tmp_path):
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("the server's database is PostgreSQL here")
    # given the server's database file, inside the roots of this test
    db = settings.database_url[len("sqlite://"):]
    for i, connection in enumerate(own_spellings(db, tmp_path)):
        # when a dataset names it
        resp = await create(client, {"type": "database", "connection": connection, "table": "signing_keys"},
                            name=f"own{i}")
        # then it is refused
        assert await refusal(resp) == {"field": "source.connection", "reason": OWN}, connection


async def test_a_sink_never_writes_onto_the_servers_own_file(client, settings, tmp_path):
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("the server's database is PostgreSQL here")
    db = settings.database_url[len("sqlite://"):]
    (tmp_path / "in.csv").write_text("id\n1\n")
    dataset = await (await create(client, {"type": "file", "path": str(tmp_path / "in.csv")})).json()
    for path in (db, f"{db}-wal", f"{tmp_path}/./docc.db"):
        steps = [{"id": "read", "type": "data_source", "config": {"dataset_id": dataset["id"]}},
                 {"id": "write", "type": "data_sink", "config": {"path": path, "format": "csv"}}]
        resp = await client.post("/api/v1/pipelines", json={"name": "overwrite", "steps": steps})
        assert await refusal(resp) == {"field": "steps[1].config.path", "reason": OWN}


async def test_the_cast_error_leak_is_closed_when_a_job_opens_the_servers_own_file(client, settings, tmp_path):
    """Finding 1: a source on the server's database plus a cast leaked secrets through the cast error."""
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("the server's database is PostgreSQL here")
    db = settings.database_url[len("sqlite://"):]
    (tmp_path / "in.csv").write_text("id\n1\n")
    # given a dataset saved while it was harmless, then pointed at the server's own file behind the API's back
    dataset = await (await create(client, {"type": "file", "path": str(tmp_path / "in.csv")})).json()
    await Dataset.filter(id=dataset["id"]).update(source={
        "type": "database", "connection": f"sqlite:///file:{db}?mode=ro", "table": "api_keys"})
    steps = [{"id": "read", "type": "data_source", "config": {"dataset_id": dataset["id"]}},
             {"id": "cast", "type": "data_cleaner", "config": {"cast": {"key_hash": "integer"}}},
             {"id": "write", "type": "data_sink", "config": {"path": str(tmp_path / "out.csv")}}]
    pipeline = await (await client.post("/api/v1/pipelines", json={"name": "leak", "steps": steps})).json()
    # when it runs
    job = await (await client.post(f"/api/v1/pipelines/{pipeline['id']}/run")).json()
    done = await wait_job(client, job["id"])
    # then the job fails before reading a row, saying why, and nothing of the table reached it
    assert done["status"] == "failed"
    assert "server's own" in done["error"] and "key_hash" not in done["error"]
    messages = [row.message for row in await JobLog.filter(job_id=job["id"])]
    assert not any("hash" in message for message in messages)
    assert not (tmp_path / "out.csv").exists()


async def test_graphql_saves_meet_the_same_policy(client, settings, tmp_path):
    from tests.graphql.helpers import create_dataset as gql_create_dataset

    # given paths the policy refuses, through createDataset
    outside = await gql_create_dataset(client, name="passwd", source={"type": "FILE", "path": "/etc/passwd",
                                                                      "format": "csv"})
    escape = await gql_create_dataset(client, name="escape", source={
        "type": "DATABASE", "connection": f"sqlite:///file:{tmp_path}/../x.db", "table": "t"})
    # then each is a ValidationError naming the field and the rule, as on REST
    assert (outside["__typename"], outside["field"], outside["reason"]) == ("ValidationError", "source.path", OUTSIDE)
    assert (escape["field"], escape["reason"]) == ("source.connection", OUTSIDE)
    if settings.database_url.startswith("sqlite"):
        own = await gql_create_dataset(client, name="own", source={
            "type": "DATABASE", "connection": f"sqlite:///file:{settings.database_url[len('sqlite://'):]}",
            "table": "signing_keys"})
        assert (own["field"], own["reason"]) == ("source.connection", OWN)


async def test_the_secret_key_file_is_never_a_source_or_a_sink(start_app, settings, tmp_path):
    # given a server whose key file lies inside its file roots
    key_file = tmp_path / "docc.key"
    client = await start_app(replace(settings, secret_keys=(), secret_key_file=str(key_file)))
    assert key_file.exists()
    # when a dataset reads it, or a pipeline would write over it
    read = await create(client, {"type": "file", "path": str(key_file), "format": "csv"}, name="key")
    (tmp_path / "in.csv").write_text("id\n1\n")
    dataset = await (await create(client, {"type": "file", "path": str(tmp_path / "in.csv")})).json()
    steps = [{"id": "read", "type": "data_source", "config": {"dataset_id": dataset["id"]}},
             {"id": "write", "type": "data_sink", "config": {"path": str(key_file), "format": "csv"}}]
    write = await client.post("/api/v1/pipelines", json={"name": "overwrite-key", "steps": steps})
    # then both are refused as the server's own files
    assert await refusal(read) == {"field": "source.path", "reason": OWN}
    assert await refusal(write) == {"field": "steps[1].config.path", "reason": OWN}
