"""Point reads on their own connection: the few small statements every request sends (its API key, a list's version).

Going through the ORM's connection costs more than the statement itself. On SQLite every statement is a hop
to aiosqlite's thread and back (queue, wake-up, GIL hand-over, a callback into the loop): about a third of
a cached list request. On PostgreSQL every statement checks a connection out of the pool and back in, and
asyncpg resets a connection it gets back with a statement of its own: two round trips for one answer.

So each open database gets one reader, used by `select_one` only:

- SQLite (a file in WAL mode): a plain `sqlite3` connection owned by the event loop's thread, run
  synchronously. WAL readers never wait for the writer, and a lookup by an indexed key takes microseconds.
  Outside a transaction each statement reads the latest committed state, so it sees every write committed
  by this process's ORM connection, by other processes and by plain SQL. It never holds a read open
  between statements (each result is fetched whole), it cannot write (`query_only`), and it never waits
  for a lock (`busy_timeout` 0): whatever goes wrong, the caller falls back to the ORM's connection.
  Since it never writes, `PRAGMA data_version` changes exactly when any other connection has committed:
  while it stands still, an answer it gave before is still the answer, and that check costs a third of the
  lookup (answers are kept until the next change, at most `KEPT_ANSWERS` of them). A statement that
  runs past `SQLITE_STEP_BUDGET` steps (a few milliseconds) is stopped and left to the ORM's connection,
  so the event loop is never held longer than that; the same statement with the same parameters then goes
  to the ORM's connection at once.
- PostgreSQL: one dedicated asyncpg connection, outside the pool. It runs one statement at a time; requests
  that arrive while one runs wait for the next turn, and identical statements (the same key, the same
  workspace's version) waiting together run once. Every statement that answers a request starts after that
  request arrived, so it sees every write whose response was sent before.

A read inside a transaction is not served here (the transaction's own connection is not registered), so it
still sees the transaction's uncommitted writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import sqlite3
import weakref
from collections.abc import Sequence
from typing import Any

import asyncpg

log = logging.getLogger("docc.db")

Rows = Sequence[Sequence[Any]]


KEPT_ANSWERS = 4096
# SQLite virtual-machine steps one statement of the SQLite reader may take (a few milliseconds of CPU) before
# it is stopped and left to the ORM's connection: the reader runs on the event loop's thread, and a count
# over a very large workspace must not hold the loop. A key lookup takes none, a 100-row page a few thousand.
SQLITE_STEP_BUDGET = 100_000
# How often (in steps) SQLite calls the reader's progress handler, which counts the budget. SQLite itself counts a
# prepared statement's steps across all its runs (the sqlite3 module reuses prepared statements), so a handler
# called "every budget" would stop a small statement on the run that happens to cross the next multiple: the
# handler counts each run's calls instead, from zero.
PROGRESS_STEPS = 1_000


class SqliteReader:
    """A synchronous, read-only connection to the same SQLite file, for the event loop's thread."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection
        self._data_version: int | None = None
        self._answers: dict[tuple[str, tuple[Any, ...]], Rows] = {}
        # Statements (with their parameters) stopped at the step budget: sent to the ORM's connection at once
        # from then on, so a count over a large workspace polled again and again spends its few milliseconds
        # on the event loop once, not on every request (at most KEPT_ANSWERS of them, the oldest forgotten).
        self._too_long: dict[tuple[str, tuple[Any, ...]], None] = {}
        self._progress_calls = 0
        self.statements = 0
        connection.set_progress_handler(self._progress, PROGRESS_STEPS)

    def _progress(self) -> int:
        """SQLite's progress handler: a non-zero answer interrupts the running statement (its budget is spent)."""
        self._progress_calls += 1
        return self._progress_calls > SQLITE_STEP_BUDGET // PROGRESS_STEPS

    @classmethod
    def open(cls, filename: str) -> SqliteReader | None:
        """A reader of `filename`, or None when it would not see what the writer commits (not a WAL file)."""
        if filename in ("", ":memory:") or filename.startswith("file:") or not os.path.isfile(filename):
            return None
        connection = sqlite3.connect(filename, isolation_level=None, check_same_thread=True)
        try:
            mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                connection.close()
                return None
            connection.execute("PRAGMA query_only = 1")
            connection.execute("PRAGMA busy_timeout = 0")
        except sqlite3.Error:
            connection.close()
            return None
        return cls(connection)

    async def rows(self, sql: str, params: Sequence[Any], keep: bool = True) -> Rows | None:
        """Every row of one statement, or None when this reader cannot answer (the caller uses the ORM's).

        `keep=False` for statements with many rows (a list's page): their answer is not kept.
        """
        key = (sql, tuple(params))
        if key in self._too_long:
            return None
        self._progress_calls = 0  # each run has the whole budget
        try:
            if not keep:  # nothing kept to check: the statement alone
                found = self._db.execute(sql, params).fetchall()
                self.statements += 1
                return found
            data_version = self._db.execute("PRAGMA data_version").fetchone()[0]
            if data_version != self._data_version:
                self._answers.clear()
                self._data_version = data_version
            found = self._answers.get(key)
            if found is None:
                self._progress_calls = 0
                found = self._db.execute(sql, params).fetchall()
                if len(self._answers) >= KEPT_ANSWERS:
                    self._answers.clear()
                self._answers[key] = found
        except sqlite3.Error as exc:
            # Locked, over its step budget, another thread, a closed file: the ORM's connection answers
            # instead, or raises.
            if isinstance(exc, sqlite3.OperationalError) and str(exc) == "interrupted":
                if len(self._too_long) >= KEPT_ANSWERS:
                    del self._too_long[next(iter(self._too_long))]
                self._too_long[key] = None
            return None
        self.statements += 1
        return found

    async def close(self) -> None:
        self._db.close()


class PostgresReader:
    """One asyncpg connection outside the pool, opened on first use; one statement at a time."""

    def __init__(self, connect_kwargs: dict[str, Any]) -> None:
        self._kwargs = connect_kwargs
        self._connection: asyncpg.Connection | None = None
        self._busy = False
        self._waiting: dict[tuple[str, tuple[Any, ...]], list[asyncio.Future[Rows | None]]] = {}
        self._drainer: asyncio.Task[None] | None = None
        self.statements = 0

    async def rows(self, sql: str, params: Sequence[Any]) -> Rows | None:
        """Every row of one statement run after this call began, or None when this reader cannot answer."""
        key = (sql, tuple(params))
        if self._busy:
            future: asyncio.Future[Rows | None] = asyncio.get_running_loop().create_future()
            self._waiting.setdefault(key, []).append(future)
            return await future
        self._busy = True
        try:
            return await self._run(*key)
        finally:
            if self._waiting:
                self._drainer = asyncio.get_running_loop().create_task(self._drain())
            else:
                self._busy = False

    async def _drain(self) -> None:
        try:
            while self._waiting:
                turn, self._waiting = self._waiting, {}
                for (sql, params), futures in turn.items():
                    try:
                        found = await self._run(sql, params)
                    except BaseException as exc:
                        for future in futures:
                            if not future.done():
                                future.set_exception(exc)
                        if isinstance(exc, asyncio.CancelledError):
                            raise
                        continue
                    for future in futures:
                        if not future.done():
                            future.set_result(found)
        finally:
            self._busy = False
            for futures in self._waiting.values():  # left over only when cancelled at shutdown
                for future in futures:
                    if not future.done():
                        future.set_result(None)
            self._waiting = {}

    async def _run(self, sql: str, params: tuple[Any, ...]) -> Rows | None:
        try:
            if self._connection is None or self._connection.is_closed():
                self._connection = await asyncpg.connect(**self._kwargs)
            found = await self._connection.fetch(sql, *params)
        except Exception as exc:
            # A lost connection (asyncpg reports one in several ways) or a failing statement: the pool answers
            # instead, and raises what it raises; the next lookup opens a new connection.
            log.debug("Point read fell back to the pool: %s", type(exc).__name__)
            self._drop()
            return None
        self.statements += 1
        return found

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.terminate()

    async def close(self) -> None:
        if self._drainer is not None and not self._drainer.done():
            self._drainer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._drainer
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close(timeout=2)


PointReader = SqliteReader | PostgresReader
_READERS: weakref.WeakKeyDictionary[Any, PointReader] = weakref.WeakKeyDictionary()
_CONNECT_PARAMETERS = frozenset(inspect.signature(asyncpg.connect).parameters) - {"loop", "dsn"}


def reader_of(client: Any) -> PointReader | None:
    """The point reader of an ORM client (the one `open_reader` registered), or None."""
    try:
        return _READERS.get(client)
    except TypeError:  # not weakly referenceable: never registered
        return None


def open_reader(client: Any) -> PointReader | None:
    """Register a point reader for an opened ORM client (SQLite file in WAL mode, or asyncpg), if it can have one."""
    reader: PointReader | None = None
    filename = getattr(client, "filename", None)
    template = getattr(client, "_template", None)
    if isinstance(filename, str):
        reader = SqliteReader.open(filename)
    elif isinstance(template, dict) and template.get("database"):
        kwargs = {name: value for name, value in template.items() if name in _CONNECT_PARAMETERS}
        kwargs["password"] = getattr(client, "password", None)
        reader = PostgresReader(kwargs)
    if reader is not None:
        _READERS[client] = reader
    return reader


async def close_reader(client: Any) -> None:
    """Close and forget the point reader of an ORM client."""
    reader = _READERS.pop(client, None)
    if reader is not None:
        await reader.close()
