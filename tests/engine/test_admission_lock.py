"""Claimers decide one at a time: while one decides, another process cannot take the same lock."""

from __future__ import annotations

import sqlite3
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from tortoise.transactions import in_transaction

from server.engine import admission


async def _others_may_decide(db: str) -> bool:
    """Whether another process could start deciding now, asked without waiting."""
    if db.startswith("sqlite://"):
        conn = sqlite3.connect(db.removeprefix("sqlite://"), timeout=0, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            return True
        except sqlite3.OperationalError as exc:
            assert "locked" in str(exc)
            return False
        finally:
            conn.close()
    parts = urlsplit(db)
    conn = await asyncpg.connect(urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")))
    try:
        async with conn.transaction():
            return bool(await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", admission._LOCK_KEY))
    finally:
        await conn.close()


async def test_a_deciding_claimer_holds_the_lock_until_its_transaction_ends(db):
    assert await _others_may_decide(db)
    async with in_transaction() as conn:
        await admission._serialize(conn)
        assert not await _others_may_decide(db)
    assert await _others_may_decide(db)
