"""Connection strings: parsing of each accepted form, and masking of passwords."""

from __future__ import annotations

import pytest

from server.engine.dataplane import DataPlaneConfigError, mask_connection, parse_connection


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://user:pass@host:5432/db", "postgresql://user:***@host:5432/db"),
        (
            "postgres://u:s3cr%40t@db.internal/warehouse?sslmode=require",
            "postgres://u:***@db.internal/warehouse?sslmode=require",
        ),
        ("postgresql://user@host/db", "postgresql://user@host/db"),
        ("postgresql://host/db", "postgresql://host/db"),
        ("sqlite:///data/x.db", "sqlite:///data/x.db"),
    ],
)
def test_mask_connection_hides_only_the_password(url, masked):
    assert mask_connection(url) == masked


def test_postgres_url_is_parsed_into_its_parts():
    # when
    conn = parse_connection("postgres://u:s3cr%40t@db.internal:6543/warehouse")
    # then
    assert (conn.dialect, conn.host, conn.port, conn.database, conn.user, conn.password) == (
        "postgresql",
        "db.internal",
        6543,
        "warehouse",
        "u",
        "s3cr@t",
    )
    assert conn.masked == "postgres://u:***@db.internal:6543/warehouse"


@pytest.mark.parametrize(
    ("url", "path"), [("sqlite:///rel/x.db", "rel/x.db"), ("sqlite:////abs/x.db", "/abs/x.db")]
)
def test_sqlite_paths_are_relative_with_three_slashes_and_absolute_with_four(url, path):
    assert parse_connection(url).path == path


def test_a_malformed_url_is_refused_under_the_given_field():
    # when
    with pytest.raises(DataPlaneConfigError) as info:
        parse_connection("postgresql://user:pw@:5432/db", field="source.connection")
    # then
    assert (info.value.field, info.value.reason) == ("source.connection", "Invalid connection string format")
    assert "pw" not in str(info.value)


def test_the_data_plane_imports_no_web_or_orm_framework():
    # given a fresh interpreter
    import subprocess
    import sys

    code = (
        "import sys, server.engine.dataplane; "
        "print(sorted(m for m in ('tortoise', 'aiohttp', 'strawberry') if m in sys.modules))"
    )
    # when
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # then
    assert out.stdout.strip() == "[]"


def test_named_connections_and_file_roots_come_from_settings():
    # given
    from server.config import Settings

    env = {"DOCC_CONNECTION_WAREHOUSE": "postgresql://h/db", "DOCC_DATABASE_URL": "sqlite:///x.db",
           "DOCC_FILE_ROOTS": "/data/in:/data/out"}
    # when
    settings = Settings.from_env(env)
    # then
    assert dict(settings.connections) == {"warehouse": "postgresql://h/db"}
    assert settings.file_roots == ("/data/in", "/data/out")
