"""Reading a database as an attacker with a copy of it would: the raw file bytes, or every raw row."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import asyncpg
from cryptography.fernet import Fernet


def new_key() -> str:
    return Fernet.generate_key().decode()


def sqlite_file(database_url: str) -> Path:
    return Path(database_url[len("sqlite://"):])


async def raw_store(database_url: str) -> bytes:
    """Everything stored: the SQLite file with its WAL, or every row of every table of the PG schema as text."""
    if database_url.startswith("sqlite://"):
        path = sqlite_file(database_url)
        return b"".join(p.read_bytes() for p in sorted(path.parent.glob(f"{path.name}*")))
    parts = urlsplit(database_url)
    schema = parse_qs(parts.query)["schema"][0]
    conn = await asyncpg.connect(parts._replace(scheme="postgresql", query="").geturl())
    try:
        tables = await conn.fetch("SELECT table_name FROM information_schema.tables WHERE table_schema = $1",
                                  schema)
        chunks = []
        for table in tables:
            rows = await conn.fetch(f'SELECT t::text AS row FROM "{schema}"."{table["table_name"]}" t')
            chunks.extend(row["row"] for row in rows)
    finally:
        await conn.close()
    assert tables, "no table found: the raw reader would prove nothing"
    return "\n".join(chunks).encode()
