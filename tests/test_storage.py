"""Storage: migrations create and upgrade the database, never regenerate it; the default workspace exists."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from tortoise import connections
from tortoise.fields import DatetimeField

from server.__main__ import main
from server.config import Settings
from server.crypto.stored import secrets_at_rest
from server.db import database
from server.models.base import Timestamp
from server.models.core import Workspace
from server.models.datasets import Dataset


@pytest.fixture(autouse=True)
def keep_log_handlers():
    """`main()` installs the JSON handler on the root logger; put pytest's back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("aiohttp.access").disabled = False


async def test_migrations_apply_once_and_keep_data(database_url):
    # given: a migrated database with a row in it
    settings = replace(Settings(), database_url=database_url)
    async with database(database_url), secrets_at_rest(settings):
        assert await Workspace.filter(id="ws_default", name="default").exists()
        await Dataset.create(id="ds_keep", workspace_id="ws_default", name="kept", source_type="file",
                             source={"type": "file", "path": "/a.csv", "format": "csv"}, schema_fields=[])
    # when: the server starts again on the same database
    async with database(database_url), secrets_at_rest(settings):
        # then: nothing was recreated and every migration is recorded once
        assert await Dataset.filter(id="ds_keep").exists()
        rows = await connections.get("default").execute_query_dict(
            "SELECT app, name FROM tortoise_migrations ORDER BY app, name")
        names = [(r["app"], r["name"]) for r in rows]
        assert len(names) == len(set(names)) and ("core", "0002_default_workspace") in names


def test_migrate_command_creates_the_database_file(tmp_path, monkeypatch):
    # given
    target = tmp_path / "fresh.db"
    monkeypatch.setenv("DOCC_DATABASE_URL", f"sqlite://{target}")
    # when
    code = main(["migrate"])
    # then
    assert code == 0 and target.exists()


def test_bad_setting_is_refused_with_its_name(monkeypatch, capsys):
    monkeypatch.setenv("DOCC_PORT", "eighty")
    assert main(["migrate"]) == 2
    assert "DOCC_PORT" in capsys.readouterr().err


@pytest.mark.parametrize("stored, expected", [
    ("2026-12-06 22:10:23.123456+00:00", datetime(2026, 12, 6, 22, 10, 23, 123456, tzinfo=UTC)),
    ("2026-12-06T22:10:23Z", datetime(2026, 12, 6, 22, 10, 23, tzinfo=UTC)),
    ("2026-12-06 22:10:23", datetime(2026, 12, 6, 22, 10, 23, tzinfo=UTC)),
    ("2026-12-06T23:10:23+01:00", datetime(2026, 12, 6, 22, 10, 23, tzinfo=UTC)),
    (datetime(2026, 12, 6, 22, 10, 23), datetime(2026, 12, 6, 22, 10, 23, tzinfo=UTC)),
    (datetime(2026, 12, 6, 17, 10, 23, tzinfo=timezone(timedelta(hours=-5))),
     datetime(2026, 12, 6, 22, 10, 23, tzinfo=UTC)),
    (None, None),
])
def test_timestamps_read_as_aware_utc(stored, expected):
    value = Timestamp().to_python_value(stored)
    assert value == expected
    assert value is None or value.tzinfo is UTC


def test_timestamp_reads_what_the_stock_field_reads():
    # A form the standard library's parser refuses still goes through Tortoise's own parser.
    stored = "20261206T221023Z"
    assert Timestamp().to_python_value(stored) == DatetimeField().to_python_value(stored)


async def test_timestamps_round_trip_through_the_database(database_url):
    async with database(database_url):
        workspace = await Workspace.get(id="ws_default")
        again = await Workspace.get(id="ws_default")
        assert again.created_at == workspace.created_at and again.created_at.tzinfo is UTC
