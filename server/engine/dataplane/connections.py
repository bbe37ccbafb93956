"""Connection strings of database sources and sinks: parsing, the policy checks, masking and SQL identifiers.

Accepted forms:
- `postgresql://[user[:password]@]host[:port]/database[?options]` (also `postgres://`); only the libpq
  options in PG_OPTIONS are accepted: one that names another host, port, database, service or a file
  (`host=`, `dbname=`, `sslkey=`, `passfile=`...) could route around every check below.
- `sqlite:///relative/path.db` (three slashes), `sqlite:////absolute/path.db` (four), and SQLite URI
  forms (`sqlite:///file:../x.db`, `sqlite:///file:/abs/x.db?mode=ro`); the only option is `mode`
  (ro, rw or rwc). Every SQLite path goes through the one path resolver (paths.resolve_path).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from . import masking
from .errors import DataPlaneConfigError
from .hosts import check_host, check_not_local, is_local, resolve
from .paths import check_not_protected, resolve_path
from .policy import DEFAULT_PG_PORT, Policy

INVALID_CONNECTION = "Invalid connection string format"
OWN_DATABASE = "The server's own database cannot be used"

# Unquoted identifiers only: what survives quoting on both PostgreSQL and SQLite and cannot smuggle SQL.
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")
_HOST = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?\.?$|^[0-9a-f:.]+$")
PG_OPTIONS = frozenset((
    "sslmode", "connect_timeout", "application_name", "target_session_attrs", "keepalives", "keepalives_idle",
    "keepalives_interval", "keepalives_count", "tcp_user_timeout", "gssencmode", "channel_binding", "options",
    "user", "password", "sslpassword", "client_encoding"))
SQLITE_MODES = ("ro", "rw", "rwc")


@dataclass(frozen=True)
class Connection:
    """A parsed connection string; `dialect` is "postgresql" or "sqlite"."""

    dialect: str
    url: str
    host: str | None = None
    port: int | None = None
    database: str | None = None
    user: str | None = None
    password: str | None = None
    path: str | None = None
    mode: str | None = None  # SQLite open mode from `?mode=`

    @property
    def masked(self) -> str:
        """The URL with its secrets replaced by `***`."""
        return mask_connection(self.url)


def _invalid(field: str, detail: str = "", reason: str = INVALID_CONNECTION) -> DataPlaneConfigError:
    return DataPlaneConfigError(f"{field}: {reason}" + (f" ({detail})" if detail else ""), field=field,
                                reason=reason)


def parse_connection(url: str, *, field: str = "connection") -> Connection:
    """Parse a database URL; raises DataPlaneConfigError(field, "Invalid connection string format")."""
    # No whitespace or control character anywhere: a stored URL is then one token in any message,
    # which is what lets the masking rule find all of it.
    if not isinstance(url, str) or not url or len(url) > 4096 or any(c.isspace() or ord(c) < 32 for c in url):
        raise _invalid(field)
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme == "sqlite":
        return _parse_sqlite(url, field)
    if scheme in ("postgresql", "postgres"):
        return _parse_postgres(url, field)
    raise DataPlaneConfigError(
        f"{field}: unsupported scheme {scheme or '(none)'!r}; use postgresql://, postgres:// or sqlite:///",
        field=field,
        reason=INVALID_CONNECTION,
    )


def _sqlite_options(query: str, field: str) -> str | None:
    mode = None
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name != "mode" or value not in SQLITE_MODES:
            raise _invalid(field, f"unsupported SQLite option {name!r}; only mode=ro, rw or rwc")
        mode = value
    return mode


def _parse_sqlite(url: str, field: str) -> Connection:
    rest = url[len("sqlite://") :]
    # sqlite:///x.db is the relative path x.db; sqlite:////x.db the absolute /x.db.
    if not rest.startswith("/") or len(rest) < 2 or "#" in rest:
        raise _invalid(field, "expected sqlite:///path/to/file.db")
    target, _, query = rest[1:].partition("?")
    if target.lower().startswith("file:"):
        # An SQLite URI: file:path, file:/abs, file:///abs or file://localhost/abs, percent-encoded.
        target = target[len("file:"):]
        if target.startswith("//"):
            authority, slash, tail = target[2:].partition("/")
            if authority.lower() not in ("", "localhost") or not slash:
                raise _invalid(field, "a file: URI names no other host")
            target = "/" + tail
        target = unquote(target)
    if not target or target.endswith("/") or "\x00" in target:
        raise _invalid(field, "no file name")
    return Connection(dialect="sqlite", url=url, path=target, mode=_sqlite_options(query, field))


def _parse_postgres(url: str, field: str) -> Connection:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _invalid(field, "bad port") from None
    database = unquote(parts.path[1:]) if parts.path.startswith("/") else ""
    host = parts.hostname or ""
    if not host or not database or "/" in database or parts.fragment:
        raise _invalid(field, "expected postgresql://user:password@host:port/database")
    if not _HOST.match(host):
        raise _invalid(field, "one host name or address, no socket path or host list")
    for name, _value in parse_qsl(parts.query, keep_blank_values=True):
        if name not in PG_OPTIONS:
            raise _invalid(field, f"unsupported connection option {name!r}")
    return Connection(
        dialect="postgresql",
        url=url,
        host=host,
        port=port or DEFAULT_PG_PORT,
        database=database,
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


def _own_endpoint(policy: Policy, conn: Connection, addresses: tuple[str, ...]) -> bool:
    own = policy.own_postgres
    if own is None or conn.port != own.port or conn.database != own.database:
        return False
    if conn.host in own.hosts or set(addresses) & set(own.hosts):
        return True
    # Two spellings of this machine (localhost, 127.0.0.1, its own interface address) are one server.
    mine = [h for h in own.hosts if _is_address(h)]
    return bool(mine) and all(is_local(h) for h in mine) and any(is_local(a) for a in addresses)


def _is_address(text: str) -> bool:
    return bool(re.match(r"^[0-9a-f:.]+$", text)) and ("." in text or ":" in text)


def check_connection(policy: Policy, url: str, *, field: str, named: bool = False, opening: bool = False
                     ) -> str:
    """Apply the policy to a connection; returns the URI to open. Raises DataPlaneConfigError.

    Named connections (DOCC_CONNECTION_<NAME>) are set by the operator: roots and the host allow-list do
    not apply to them, but they may never reach the server's own database either. When `opening`, a
    PostgreSQL host must resolve, and the URI returned pins the checked address (libpq `hostaddr`).
    """
    conn = parse_connection(url, field=field)
    if conn.dialect == "sqlite":
        path = conn.path or ""
        real = check_not_protected(policy, path, field=field) if named else resolve_path(policy, path, field=field)
        return f"file:{quote(real)}" + (f"?mode={conn.mode}" if conn.mode else "")
    host = conn.host or ""
    if named:
        addresses = resolve(host)
    else:
        addresses = check_host(policy, host, field=field, must_resolve=opening)
    if _own_endpoint(policy, conn, addresses):
        raise DataPlaneConfigError(f"{field}: this connection names the server's own database", field=field,
                                   reason=OWN_DATABASE)
    if not named:
        check_not_local(policy, host, addresses, field=field)
    if not opening or not addresses:
        return conn.url
    parts = urlsplit(conn.url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), ("hostaddr", addresses[0])]
    return urlunsplit(parts._replace(query=urlencode(query)))


def mask_connection(url: str) -> str:
    """The URL with its secrets masked (`postgresql://user:***@host:5432/db`); never raises."""
    return masking.mask_secrets(url)


def split_table(table: str, *, dialect: str, field: str) -> tuple[str | None, str]:
    """Split `schema.table` (PostgreSQL only) and check both names; raises DataPlaneConfigError."""
    if not isinstance(table, str) or not table:
        raise DataPlaneConfigError(f"{field}: a table name is required", field=field,
                                   reason="Missing table name")
    parts = table.split(".")
    if len(parts) > 2 or (len(parts) == 2 and dialect != "postgresql"):
        raise DataPlaneConfigError(
            f"{field}: {table!r} is not a table name"
            + (" (schema.table is only for PostgreSQL)" if dialect != "postgresql" else ""),
            field=field,
            reason="Invalid table name",
        )
    for part in parts:
        if not _IDENT.match(part):
            raise DataPlaneConfigError(
                f"{field}: {part!r} is not a valid identifier (letters, digits, _ and $, not first a digit)",
                field=field,
                reason="Invalid table name",
            )
    return (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])


def quote_ident(name: str) -> str:
    """Quote an identifier for PostgreSQL and SQLite alike."""
    return '"' + name.replace('"', '""') + '"'


def qualified(schema: str | None, table: str) -> str:
    """A quoted, optionally schema-qualified table name."""
    return f"{quote_ident(schema)}.{quote_ident(table)}" if schema else quote_ident(table)
