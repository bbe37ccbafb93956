"""Fixtures of the read-path tests: the SQL statements a request sends."""

from __future__ import annotations

from typing import Any

import pytest
from tortoise.backends.asyncpg.client import AsyncpgDBClient, TransactionWrapper
from tortoise.backends.sqlite.client import SqliteClient, SqliteTransactionWrapper

from server.point_reads import PostgresReader, SqliteReader

EXECUTES = ("execute_query", "execute_query_dict", "execute_insert", "execute_many", "execute_script")


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every SQL statement sent through Tortoise or a point reader (server.point_reads) during the test, in order."""
    sent: list[str] = []
    for client in (SqliteClient, SqliteTransactionWrapper, AsyncpgDBClient, TransactionWrapper):
        for name in EXECUTES:
            if name not in vars(client):
                continue
            original = vars(client)[name]

            async def counted(self: Any, query: str, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
                sent.append(query)
                return await _original(self, query, *args, **kwargs)

            monkeypatch.setattr(client, name, counted)
    for reader in (SqliteReader, PostgresReader):
        original_rows = vars(reader)["rows"]

        async def read(self: Any, query: str, params: Any, *args: Any, _original: Any = original_rows,
                       **kwargs: Any) -> Any:
            found = await _original(self, query, params, *args, **kwargs)
            if found is not None:  # None: the reader could not answer, and Tortoise is asked (and counted)
                sent.append(query)
            return found

        monkeypatch.setattr(reader, "rows", read)
    return sent
