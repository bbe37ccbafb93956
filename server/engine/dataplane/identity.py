"""Who a PostgreSQL server says it is, so the data plane never opens the server's own database.

A URL can name one database many ways (another host name, an address of the same machine, a port
forward); what the server reports about itself once connected cannot be spelled differently. The
server learns its own identity at start with the same queries and puts it in the Policy; every
connection a job opens is compared with it before any statement of the job runs.
"""

from __future__ import annotations

from typing import Any

from .errors import DataPlaneConfigError
from .policy import PgIdentity, Policy

# Every role may run these; the second may be refused to some roles, hence the fallback in PgIdentity.
DATABASE_SQL = ("SELECT current_database(), (SELECT oid FROM pg_database WHERE datname = current_database())::bigint, "
                "extract(epoch FROM pg_postmaster_start_time())::text || '@' || "
                "COALESCE(inet_server_port(), 0)::text")
SYSTEM_SQL = "SELECT system_identifier::text FROM pg_control_system()"


def identity_from_rows(database_row: tuple[Any, ...], system_id: Any) -> PgIdentity:
    """A PgIdentity from the rows of DATABASE_SQL and SYSTEM_SQL (system_id None when refused)."""
    name, oid, started = database_row
    return PgIdentity(database=str(name), database_oid=int(oid), system_id=str(system_id) if system_id else None,
                      started=str(started))


def read_identity(db: Any) -> PgIdentity:
    """The identity behind an open ADBC/DB-API PostgreSQL connection; ends its transaction."""
    cur = db.cursor()
    try:
        cur.execute(DATABASE_SQL)
        row = cur.fetchone()
        db.rollback()
        try:
            cur.execute(SYSTEM_SQL)
            system_id = cur.fetchone()[0]
        except Exception:  # A role without the right to read pg_control_system: compare the fallback.
            system_id = None
        db.rollback()
    finally:
        cur.close()
    return identity_from_rows(tuple(row), system_id)


def check_identity(policy: Policy, db: Any, *, field: str) -> None:
    """Refuse (DataPlaneConfigError) a connection that reached the server's own database."""
    if policy.own_identity is None:
        return
    if read_identity(db).same_database(policy.own_identity):
        raise DataPlaneConfigError(f"{field}: this connection reaches the server's own database", field=field,
                                   reason="The server's own database cannot be used")
