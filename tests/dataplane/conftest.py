"""Fixtures of the data plane tests: a recording RunContext and a throw-away PostgreSQL database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import adbc_driver_postgresql.dbapi as pg_dbapi
import polars as pl
import pytest

from server.engine.dataplane import Policy, RunContext, StepStats

SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer", "nullable": False},
        {"name": "name", "type": "string", "nullable": False},
        {"name": "age", "type": "integer", "nullable": True},
        {"name": "email", "type": "string", "nullable": True},
    ]
}
# Two exact duplicates, one padded name, one missing age and one missing email.
CUSTOMERS = pl.DataFrame(
    {
        "id": ["1", "1", "2", "3", "4"],
        "name": ["  Ann ", "  Ann ", "Bob", "Cy", "Dee"],
        "age": ["30", "30", None, "41", "25"],
        "email": ["a@x.io", "a@x.io", "b@x.io", None, "d@x.io"],
    }
)


@dataclass
class Recorder:
    """A RunContext whose callbacks record what they saw."""

    events: list[tuple[str, str]] = field(default_factory=list)
    stats: dict[str, StepStats] = field(default_factory=dict)
    logs: list[tuple[str, str | None, str]] = field(default_factory=list)
    progress: list[float] = field(default_factory=list)
    ctx: RunContext = field(default_factory=RunContext)
    policy: Policy = field(default_factory=lambda: Policy(file_roots=(), local_hosts=True))

    def __post_init__(self) -> None:
        self.ctx.on_step_start = lambda sid: self.events.append(("start", sid))
        self.ctx.on_step_end = self._end
        self.ctx.log = lambda level, sid, msg: self.logs.append((level, sid, msg))
        self.ctx.on_progress = self.progress.append

    def _end(self, sid: str, stats: StepStats) -> None:
        self.events.append(("end", sid))
        self.stats[sid] = stats

    def cancel_once_staged(self, batch_rows: int) -> None:
        """Write in batches of `batch_rows` and cancel the run as soon as the first batch is staged."""
        self.ctx.batch_rows = batch_rows
        log = self.ctx.log

        def cancel_on_first_batch(level: str, step_id: str | None, message: str) -> None:
            log(level, step_id, message)
            if message.startswith("staged"):
                self.ctx.cancel.set()

        self.ctx.log = cancel_on_first_batch


@pytest.fixture
def policy(tmp_path) -> Policy:
    """The data plane's policy in these tests: files confined to the test's own folder; the machine's own
    PostgreSQL is the user database the tests read and write (DOCC_CONNECTION_LOCAL=true)."""
    return Policy(file_roots=(os.path.realpath(tmp_path),), local_hosts=True)


@pytest.fixture
def recorder(policy: Policy) -> Recorder:
    return Recorder(policy=policy)


def write_customers(path: str, fmt: str, frame: pl.DataFrame = CUSTOMERS) -> dict[str, Any]:
    """Write the sample rows in a format and return the matching file source."""
    if fmt == "csv":
        frame.write_csv(path)
    elif fmt == "parquet":
        frame.write_parquet(path)
    else:
        frame.write_ndjson(path)
    return {"type": "file", "path": path, "format": fmt}


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this run, dropped afterwards; skips without DOCC_TEST_POSTGRES_URL."""
    base = os.environ.get("DOCC_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("DOCC_TEST_POSTGRES_URL is not set")
    name = f"docc_dp_{uuid.uuid4().hex[:10]}"
    admin = pg_dbapi.connect(base, autocommit=True)
    try:
        admin.cursor().execute(f'CREATE DATABASE "{name}"')
        parts = urlsplit(base)
        yield urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def pg_query(url: str, sql: str) -> pl.DataFrame:
    """Run a query on PostgreSQL and return its rows."""
    with pg_dbapi.connect(url) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return pl.from_arrow(cur.fetch_arrow_table())  # type: ignore[return-value]


def pg_exec(url: str, *sql: str) -> None:
    """Run statements on PostgreSQL and commit."""
    with pg_dbapi.connect(url) as conn, conn.cursor() as cur:
        for statement in sql:
            cur.execute(statement)
        conn.commit()
