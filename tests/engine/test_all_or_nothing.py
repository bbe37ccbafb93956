"""Jobs are all or nothing: a job's writes become visible together at its end, or not at all, even when the
process running it is killed; what a killed process staged is finished or removed, never left behind."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import sqlite3
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from resolvers import jobs, pipelines
from server.engine.executor import Executor
from server.engine.runner import TEMP_PREFIX
from server.models.engine import Job, JobLog, StagedWrite

from .child_bodies import HELD, PID_PREFIX
from .helpers import (
    CLEANED,
    PRINCIPAL,
    TEST_POLICY,
    TEST_ROOTS,
    csv_dataset,
    running,
    settings_for,
    sqlite_rows,
    wait_for,
    write_csv,
)

CLEAN = {"remove_duplicates": True, "handle_nulls": "drop", "trim": True, "cast": True}


async def two_sink_pipeline(dataset_id: str, first: dict, second: dict, name: str = "two_sinks") -> str:
    steps = [
        {"id": "input", "type": "data_source", "config": {"dataset_id": dataset_id}},
        {"id": "clean", "type": "data_cleaner", "config": CLEAN},
        {"id": "first", "type": "data_sink", "config": first},
        {"id": "second", "type": "data_sink", "config": second},
    ]
    row = await pipelines.create_pipeline(PRINCIPAL, pipelines.PipelineCreate(name=name, steps=steps),
                                          policy=TEST_POLICY)
    return row.id


def seeded_warehouse(path: str) -> str:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER, name TEXT, age INTEGER)")
        conn.execute("CREATE INDEX customers_name ON customers (name)")
        conn.execute("INSERT INTO customers VALUES (7, 'before', 1)")
    return path


def tables(db: str) -> list[str]:
    return [r[0] for r in sqlite_rows(db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]


def hidden(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


async def test_a_job_whose_second_sink_fails_leaves_the_first_file_as_it_was(db, tmp_path):
    # given a file sink holding rows, then a sink on a connection that is not configured
    dataset_id = await csv_dataset(write_csv(str(tmp_path / "in.csv")))
    out = tmp_path / "out.csv"
    out.write_text("id\n7\n")
    job = await jobs.run_pipeline(PRINCIPAL, await two_sink_pipeline(
        dataset_id, {"path": str(out)}, {"destination": "warehouse.customers"}))
    # when
    await Executor(settings_for(db)).drain()
    # then the job failed once, with its cause said once, and the file was not touched
    done = await Job.get(id=job.id)
    assert done.status == "failed"
    assert done.error == "step 'second' failed: unknown connection 'warehouse' (set DOCC_CONNECTION_WAREHOUSE)"
    assert out.read_text() == "id\n7\n" and hidden(tmp_path) == []
    assert done.statistics["rows_written"] == 0
    assert not await StagedWrite.filter(job_id=job.id).exists()


async def test_two_sinks_publish_together_and_count_unique_rows(db, tmp_path):
    # given a file sink and a SQLite table with an index, fed the same cleaned rows
    dataset_id = await csv_dataset(write_csv(str(tmp_path / "in.csv")))
    out, warehouse = tmp_path / "out.csv", seeded_warehouse(str(tmp_path / "wh.db"))
    job = await jobs.run_pipeline(PRINCIPAL, await two_sink_pipeline(
        dataset_id, {"path": str(out)}, {"destination": "warehouse.customers"}))
    settings = settings_for(db, connections={"warehouse": f"sqlite:///{warehouse}"})
    # when
    await Executor(settings).drain()
    # then both hold the rows, the table kept its index, and the rows are counted once in the total
    done = await Job.get(id=job.id)
    assert done.status == "succeeded", done.error
    assert pl.read_csv(out).sort("id").rows() == CLEANED
    assert sqlite_rows(warehouse, "SELECT id, name, age FROM customers ORDER BY id") == CLEANED
    assert sqlite_rows(warehouse, "SELECT name FROM sqlite_master WHERE type = 'index'") == [("customers_name",)]
    assert done.statistics["rows_written"] == 2
    assert done.statistics["rows_written_by_sink"] == {"first": 2, "second": 2}
    # and the debug lines of the data plane were not stored, while the publication is told
    logs = await JobLog.filter(job_id=job.id).order_by("seq")
    assert all(line.level != "debug" for line in logs)
    assert any(line.message == "every step succeeded; publishing 2 staged write(s)" for line in logs)
    assert not await StagedWrite.filter(job_id=job.id).exists()
    assert hidden(tmp_path) == [] and tables(warehouse) == ["customers"]


async def _killed_worker(db: str, tmp_path, body: str, warehouse: str, attempts: int = 3) -> tuple[str, int]:
    """Start a worker whose job holds at `body`, wait until it does, then kill the worker without a word."""
    env = {**os.environ, "DOCC_DATABASE_URL": db, "DOCC_FILE_ROOTS": TEST_ROOTS[0],
           "DOCC_SECRET_KEY_FILE": str(tmp_path / "docc.key"), "DOCC_JOB_POLL_SECONDS": "0.2",
           "DOCC_LOG_LEVEL": "WARNING", "DOCC_JOB_LEASE_SECONDS": "3", "DOCC_JOB_MAX_ATTEMPTS": str(attempts),
           "DOCC_CONNECTION_WAREHOUSE": f"sqlite:///{warehouse}"}
    worker = await asyncio.create_subprocess_exec(sys.executable, "-m", "tests.engine.held_worker", body, env=env,
                                                  stderr=asyncio.subprocess.PIPE)
    try:
        await wait_for(lambda: JobLog.filter(message=HELD).exists(), attempts=600)
        logged = await JobLog.filter(message__startswith=PID_PREFIX).first()
        child = int(logged.message.removeprefix(PID_PREFIX))
    except AssertionError:
        worker.kill()
        lines = [f"{r.level} {r.message}" for r in await JobLog.all().order_by("seq")]
        raise AssertionError(f"{lines}\n{(await worker.communicate())[1].decode()[-3000:]}") from None
    finally:
        if worker.returncode is None:
            worker.kill()
        await worker.wait()
    await wait_for(lambda: _gone(child))
    await wait_for(lambda: Job.filter(status="running", lease_expires_at__lt=datetime.now(UTC)).exists(),
                   attempts=200)
    return logged.job_id, child


async def _gone(pid: int) -> bool:
    return not running(pid)


async def test_a_worker_killed_before_publishing_leaves_nothing_visible_and_the_rerun_delivers(db, tmp_path):
    # given a two-sink job whose worker is killed once both writes are staged, before the decision
    dataset_id = await csv_dataset(write_csv(str(tmp_path / "in.csv")))
    out, warehouse = tmp_path / "out.csv", seeded_warehouse(str(tmp_path / "wh.db"))
    await jobs.run_pipeline(PRINCIPAL, await two_sink_pipeline(
        dataset_id, {"path": str(out)}, {"destination": "warehouse.customers"}))
    job_id, _ = await _killed_worker(db, tmp_path, "held_before_publish", warehouse)
    # then at that point nothing is visible: both destinations are as they were, the staged writes are aside
    assert not out.exists() and len(hidden(tmp_path)) == 1
    assert sqlite_rows(warehouse, "SELECT id FROM customers") == [(7,)] and len(tables(warehouse)) == 2
    assert {r.state for r in await StagedWrite.filter(job_id=job_id)} == {"staging"}
    # when another process takes the job over
    settings = settings_for(db, connections={"warehouse": f"sqlite:///{warehouse}"})
    ran = await Executor(settings, owner="rescuer").drain()
    # then it removed what the dead run staged, ran the job again, and both destinations hold its rows
    done = await Job.get(id=job_id)
    assert ran == 1 and (done.status, done.attempts) == ("succeeded", 2), done.error
    assert pl.read_csv(out).sort("id").rows() == CLEANED
    assert sqlite_rows(warehouse, "SELECT id, name, age FROM customers ORDER BY id") == CLEANED
    assert hidden(tmp_path) == [] and tables(warehouse) == ["customers"]
    assert not await StagedWrite.filter(job_id=job_id).exists()


async def test_a_worker_killed_after_the_decision_has_its_plan_completed_by_the_next(db, tmp_path):
    # given a two-sink job whose worker is killed once the decision to publish is recorded, before publishing
    dataset_id = await csv_dataset(write_csv(str(tmp_path / "in.csv")))
    out, warehouse = tmp_path / "out.csv", seeded_warehouse(str(tmp_path / "wh.db"))
    await jobs.run_pipeline(PRINCIPAL, await two_sink_pipeline(
        dataset_id, {"path": str(out)}, {"destination": "warehouse.customers"}))
    # even when it has no attempt left: a decided plan is finished, not failed
    job_id, _ = await _killed_worker(db, tmp_path, "held_after_decision", warehouse, attempts=1)
    assert {r.state for r in await StagedWrite.filter(job_id=job_id)} == {"publishing"}
    assert not out.exists() and sqlite_rows(warehouse, "SELECT id FROM customers") == [(7,)]
    # when another process takes the job over
    settings = settings_for(db, connections={"warehouse": f"sqlite:///{warehouse}"}, job_max_attempts=1)
    await Executor(settings, owner="rescuer").drain()
    # then it published the staged writes without running the steps again, and the job succeeded
    done = await Job.get(id=job_id)
    assert done.status == "succeeded", done.error
    assert pl.read_csv(out).sort("id").rows() == CLEANED
    assert sqlite_rows(warehouse, "SELECT id, name, age FROM customers ORDER BY id") == CLEANED
    assert hidden(tmp_path) == [] and tables(warehouse) == ["customers"]
    assert done.statistics["rows_written"] == 2
    messages = [line.message for line in await JobLog.filter(job_id=job_id).order_by("seq")]
    assert "an earlier process of this job ended while publishing; publishing the rest" in messages
    assert messages.count("job started by rescuer (attempt 2)") == 0


async def test_the_sweep_removes_what_a_killed_job_left_and_spares_running_jobs(db, tmp_path):
    # given a job with no attempt left whose worker was killed after staging: it is failed by the next process
    dataset_id = await csv_dataset(write_csv(str(tmp_path / "in.csv")))
    out, warehouse = tmp_path / "out.csv", seeded_warehouse(str(tmp_path / "wh.db"))
    await jobs.run_pipeline(PRINCIPAL, await two_sink_pipeline(
        dataset_id, {"path": str(out)}, {"destination": "warehouse.customers"}))
    job_id, _ = await _killed_worker(db, tmp_path, "held_before_publish", warehouse, attempts=1)
    settings = settings_for(db, connections={"warehouse": f"sqlite:///{warehouse}"}, job_max_attempts=1)
    executor = Executor(settings, owner="sweeper")
    await executor.fill()
    assert (await Job.get(id=job_id)).status == "failed"
    # and another job that is running, with a staging table and a temp file of its own beside the same targets
    other = await Job.get(id=job_id)
    other.id, other.status, other.lease_expires_at = "job_00000000000000000001", "running", None
    await other.save(force_create=True)
    live_table = "_docc_staging_00000000000000000001_1_0123abcd"
    with sqlite3.connect(warehouse) as conn:
        conn.execute(f"CREATE TABLE {live_table} (id INTEGER)")
    live_file = tmp_path / ".out.csv.docc_00000000000000000001_1_4567cdef.tmp"
    live_file.write_text("id\n")
    await StagedWrite.create(job_id=other.id, step_id="first", key="00000000000000000001_1")
    # and temp folders: the failed job's, the running job's, and one of a job this database does not know
    temp = Path(tempfile.gettempdir())
    folders = {name: temp / f"{TEMP_PREFIX}{job}-{secrets.token_hex(4)}" for name, job in
               (("failed", job_id), ("running", other.id), ("unknown", "job_ffffffffffffffffffff"))}
    for folder in folders.values():
        folder.mkdir()
    # when the sweep runs
    swept = await executor.sweep()
    # then the failed job's staged writes are gone, the destinations are as they were, the running job's kept
    assert swept == 1
    assert not out.exists() and hidden(tmp_path) == [live_file.name]
    assert sqlite_rows(warehouse, "SELECT id FROM customers") == [(7,)]
    assert tables(warehouse) == [live_table, "customers"]
    assert not await StagedWrite.filter(job_id=job_id).exists()
    assert await StagedWrite.filter(job_id=other.id).exists()
    assert not folders["failed"].exists() and folders["running"].exists() and folders["unknown"].exists()
    for folder in folders.values():
        shutil.rmtree(folder, ignore_errors=True)
    messages = [line.message for line in await JobLog.filter(job_id=job_id).order_by("seq")]
    assert any(m.startswith("sweep by sweeper: finishing 2 staged write(s)") for m in messages)
