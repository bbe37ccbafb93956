"""Connection strings of database sources and sinks: parsing, masking and SQL identifiers.

Accepted forms:
- `postgresql://[user[:password]@]host[:port]/database[?options]` (also `postgres://`)
- `sqlite:///relative/path.db` (three slashes) and `sqlite:////absolute/path.db` (four)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from .errors import DataPlaneConfigError

INVALID_CONNECTION = "Invalid connection string format"

# Unquoted identifiers only: what survives quoting on both PostgreSQL and SQLite and cannot smuggle SQL.
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")
_USERINFO = re.compile(r"^(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@?#]*:)(?P<password>[^@/?#]*)(?P<tail>@.*)$")


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

    @property
    def adbc_uri(self) -> str:
        """The URI the ADBC driver of this dialect accepts."""
        return self.path if self.dialect == "sqlite" else self.url  # type: ignore[return-value]

    @property
    def masked(self) -> str:
        """The URL with its password replaced by `***`."""
        return mask_connection(self.url)


def parse_connection(url: str, *, field: str = "connection") -> Connection:
    """Parse a database URL; raises DataPlaneConfigError(field, "Invalid connection string format")."""
    if not isinstance(url, str) or not url.strip() or url != url.strip():
        raise DataPlaneConfigError(f"{field}: {INVALID_CONNECTION}", field=field, reason=INVALID_CONNECTION)
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


def _parse_sqlite(url: str, field: str) -> Connection:
    rest = url[len("sqlite://") :]
    # sqlite:///x.db is the relative path x.db; sqlite:////x.db the absolute /x.db.
    if not rest.startswith("/") or len(rest) < 2 or "?" in rest or "#" in rest:
        raise DataPlaneConfigError(
            f"{field}: {INVALID_CONNECTION} (expected sqlite:///path/to/file.db)",
            field=field,
            reason=INVALID_CONNECTION,
        )
    path = rest[1:]
    if path.endswith("/"):
        raise DataPlaneConfigError(f"{field}: {INVALID_CONNECTION} (no file name)", field=field,
                                   reason=INVALID_CONNECTION)
    return Connection(dialect="sqlite", url=url, path=path)


def _parse_postgres(url: str, field: str) -> Connection:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise DataPlaneConfigError(f"{field}: {INVALID_CONNECTION} (bad port)", field=field,
                                   reason=INVALID_CONNECTION) from None
    database = unquote(parts.path[1:]) if parts.path.startswith("/") else ""
    if not parts.hostname or not database or "/" in database or parts.fragment:
        raise DataPlaneConfigError(
            f"{field}: {INVALID_CONNECTION} (expected postgresql://user:password@host:port/database)",
            field=field,
            reason=INVALID_CONNECTION,
        )
    return Connection(
        dialect="postgresql",
        url=url,
        host=parts.hostname,
        port=port,
        database=database,
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


def mask_connection(url: str) -> str:
    """Replace the password of a URL by `***` (`postgresql://user:***@host:5432/db`); never raises."""
    if not isinstance(url, str):
        return "***"
    match = _USERINFO.match(url)
    if match is None:
        return url
    return f"{match['head']}***{match['tail']}"


def mask_secrets(text: str, *urls: str) -> str:
    """Remove every password of `urls` from a message (driver errors may echo the URL)."""
    for url in urls:
        try:
            password = parse_connection(url).password
        except DataPlaneConfigError:
            continue
        text = text.replace(url, mask_connection(url))
        if password:
            text = text.replace(password, "***")
    return text


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
