"""Sample data of the quality engine tests, written the same way to CSV, Parquet, SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from typing import Any

import adbc_driver_postgresql.dbapi as pg_dbapi
import adbc_driver_sqlite.dbapi as sqlite_dbapi
import polars as pl
import pytest

from server.engine.dataplane import Policy
from server.engine.dataplane.quality import CheckSpec

BACKENDS = ["csv", "parquet", "jsonl", "sqlite", "postgres"]
# The newest timestamp is two hours old when the data is made, so '1h' fails and '3h' passes.
NOW = dt.datetime.now(dt.UTC).replace(tzinfo=None)
CUSTOMERS = pl.DataFrame({
    "id": [1, 2, 3, 4, 5, 6, 7, 8],
    "code": ["A1", "A2", "A2", "B1", None, "C3", "c3", "A1"],
    "email": ["a@x.io", "b@x.io", "bad", None, "c@y.org", "d@z", None, "e@x.io"],
    "age": [30, 17, 45, None, 70, 25, 130, 50],
    "status": ["active", "inactive", "active", "deleted", None, "active", "pending", "active"],
    "amount": [10.5, 0.0, -1.0, 99.9, None, 20.0, 5.25, 100.0],
    "ts": [NOW - dt.timedelta(hours=h) for h in (30, 5, 2, 48, 3, 4, 6, 7)],
}, schema_overrides={"ts": pl.Datetime("us")})
CODES = pl.DataFrame({"code": ["A1", "A2", "B1", None]})
FIELDS = [
    {"name": "id", "type": "bigint"},
    {"name": "code", "type": "string"},
    {"name": "email", "type": "string"},
    {"name": "age", "type": "bigint"},
    {"name": "status", "type": "string"},
    {"name": "amount", "type": "double"},
    {"name": "ts", "type": "timestamp"},
]


def local_policy(*roots: str, **values: Any) -> Policy:
    """The policy of these tests: files under `roots`; the machine's own PostgreSQL holds the sample tables."""
    return Policy(file_roots=roots, local_hosts=True, **values)


def check(rule_type: str, config: dict[str, Any], threshold: float = 1.0, severity: str = "error") -> CheckSpec:
    return CheckSpec(key=f"qr_{rule_type}", rule_type=rule_type, config=config, threshold=threshold,
                     severity=severity)


class Place:
    """Where a test's tables go: a folder, and (for one backend) a database."""

    def __init__(self, backend: str, folder: str, pg_url: str | None) -> None:
        self.backend, self.folder, self.pg_url = backend, folder, pg_url
        self.sqlite_path = os.path.join(folder, "data.db")

    def put(self, frame: pl.DataFrame, name: str) -> dict[str, Any]:
        """Write `frame` as `name` in this backend and return its dataset source."""
        if self.backend in ("csv", "parquet", "jsonl"):
            path = os.path.join(self.folder, f"{name}.{self.backend}")
            writers = {"csv": frame.write_csv, "parquet": frame.write_parquet, "jsonl": frame.write_ndjson}
            writers[self.backend](path)
            return {"type": "file", "path": path, "format": self.backend}
        if self.backend == "sqlite":
            url, db = f"sqlite:///{self.sqlite_path}", sqlite_dbapi.connect(self.sqlite_path)
        else:
            assert self.pg_url
            url, db = self.pg_url, pg_dbapi.connect(self.pg_url)
            name = f"{name}_{uuid.uuid4().hex[:8]}"
        with db, db.cursor() as cur:
            cur.adbc_ingest(name, frame.to_arrow(), mode="replace")
            db.commit()
        return {"type": "database", "connection": url, "table": name}


@pytest.fixture(params=BACKENDS)
def place(request, tmp_path) -> Place:
    """The same data in each backend in turn (PostgreSQL only when DOCC_TEST_POSTGRES_URL is set)."""
    pg_url = request.getfixturevalue("pg_url") if request.param == "postgres" else None
    return Place(request.param, os.path.realpath(tmp_path), pg_url)
