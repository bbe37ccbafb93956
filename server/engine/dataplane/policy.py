"""What the data plane may touch: file roots, the server's own files and database, allowed hosts.

A `Policy` is built once from the settings when the engine starts, held by the app and the engine, and
passed explicitly to every check: at save time (datasets, pipelines) and again when a job opens a file
or a connection. It is frozen and made of plain strings, ints and tuples so that it pickles into a job
that runs in another process.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

# SQLite keeps these beside a database; each is as much the database as the file itself.
SQLITE_SIBLINGS = ("-wal", "-shm", "-journal")
DEFAULT_PG_PORT = 5432


@dataclass(frozen=True)
class PgIdentity:
    """A PostgreSQL database as the server reports it once connected (not as a URL spells it)."""

    database: str
    database_oid: int
    system_id: str | None  # pg_control_system().system_identifier, when the role may read it
    started: str  # postmaster start time (epoch) and port: the fallback when system_id is unknown

    def same_database(self, other: PgIdentity) -> bool:
        """True when both name one database of one server."""
        if self.system_id and other.system_id:
            same_server = self.system_id == other.system_id
        else:
            same_server = self.started == other.started
        return same_server and self.database_oid == other.database_oid


@dataclass(frozen=True)
class PgEndpoint:
    """The server's own PostgreSQL as its URL names it: host names and addresses, port and database."""

    hosts: tuple[str, ...]
    port: int
    database: str


@dataclass(frozen=True)
class Policy:
    """The data plane's confinement; see the module docstring."""

    file_roots: tuple[str, ...]
    protected_paths: tuple[str, ...] = ()
    own_postgres: PgEndpoint | None = None
    own_identity: PgIdentity | None = None
    connection_hosts: tuple[str, ...] = ()
    # Whether connection strings users give may reach this machine's own addresses (DOCC_CONNECTION_LOCAL).
    local_hosts: bool = False
    # Bounds each query the quality checks push down to PostgreSQL (statement_timeout): a job's process
    # killed at its time limit does not stop the query its database backend is running.
    query_timeout_s: float | None = None


def sqlite_file(database_url: str) -> str | None:
    """The file of a Tortoise SQLite URL (`sqlite://./docc.db`, `sqlite:///abs/docc.db`); None otherwise."""
    if not database_url.lower().startswith("sqlite://"):
        return None
    path = database_url[len("sqlite://"):].split("?", 1)[0]
    if not path or path.startswith(":memory:") or path.startswith("file::memory:"):
        return None
    return unquote(path)


def protected_files(database_url: str, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """Absolute paths of the server's own database file, its siblings, and the extra files given."""
    paths: list[str] = []
    db_file = sqlite_file(database_url)
    if db_file:
        for base in dict.fromkeys((os.path.abspath(db_file), os.path.realpath(db_file))):
            paths += [base, *(base + suffix for suffix in SQLITE_SIBLINGS)]
    for path in extra:
        if path:
            paths += list(dict.fromkeys((os.path.abspath(path), os.path.realpath(path))))
    return tuple(dict.fromkeys(paths))


def postgres_endpoint(database_url: str) -> PgEndpoint | None:
    """Where the server's own PostgreSQL is, with its host resolved to addresses (best effort)."""
    from .hosts import resolve  # Imported here: hosts imports this module.

    if not database_url.lower().startswith(("postgres://", "postgresql://")):
        return None
    parts = urlsplit(database_url)
    host = (parts.hostname or "localhost").lower()
    try:
        port = parts.port or DEFAULT_PG_PORT
    except ValueError:
        port = DEFAULT_PG_PORT
    database = unquote(parts.path[1:]) if parts.path.startswith("/") else ""
    return PgEndpoint(hosts=tuple(dict.fromkeys((host, *resolve(host)))), port=port,
                      database=database or parts.username or "postgres")


def policy_from_settings(settings: Any, identity: PgIdentity | None = None,
                         extra_protected: Iterable[str] = ()) -> Policy:
    """The Policy of a process: roots (DOCC_FILE_ROOTS or DOCC_DATA_DIR), own files and database, hosts."""
    roots = tuple(settings.file_roots) or (settings.data_dir,)
    return Policy(
        file_roots=tuple(dict.fromkeys(os.path.realpath(root) for root in roots if root)),
        protected_paths=protected_files(settings.database_url, extra_protected),
        own_postgres=postgres_endpoint(settings.database_url),
        own_identity=identity,
        connection_hosts=tuple(settings.connection_hosts),
        local_hosts=bool(getattr(settings, "connection_local", False)),
        query_timeout_s=getattr(settings, "job_timeout_seconds", None),
    )


def prepare_data_dir(settings: Any) -> None:
    """Create DOCC_DATA_DIR (mode 0700) on first start; an existing folder is left as it is."""
    if settings.data_dir and not os.path.exists(settings.data_dir):
        os.makedirs(settings.data_dir, mode=0o700, exist_ok=True)
        os.chmod(settings.data_dir, 0o700)  # makedirs applies the umask; the folder is the server's alone.
