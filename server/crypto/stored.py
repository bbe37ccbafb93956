"""The stored secrets as a whole: checked at start, sealed when an older install left them plain, rotated.

Every column of a sealed field type, in every model, is covered without a list to keep up to date.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from tortoise import Tortoise, connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model
from tortoise.transactions import in_transaction

from server.config import Settings
from server.crypto.fields import PREFIX, SealedJSONField, SealedTextField, is_sealed
from server.crypto.keys import Keyring, SecretsError, load_keyring, secret_key_path, use_keyring

log = logging.getLogger("docc.secrets")


@dataclass(frozen=True)
class SealedColumn:
    """One encrypted column: its table, primary-key column, column, and whether it holds JSON."""

    table: str
    pk: str
    column: str
    json: bool

    @property
    def label(self) -> str:
        return f"{self.table}.{self.column}"


def sealed_columns() -> list[SealedColumn]:
    """Every column of a sealed field in the registered models."""
    found: list[SealedColumn] = []
    for app in Tortoise.apps.values():
        for model in app.values():
            found.extend(_columns_of(model))
    return sorted(found, key=lambda c: c.label)


def _columns_of(model: type[Model]) -> Iterator[SealedColumn]:
    meta = model._meta
    for name, field in meta.fields_map.items():
        if isinstance(field, (SealedTextField, SealedJSONField)):
            yield SealedColumn(meta.db_table, meta.pk.source_field or meta.pk_attr,
                               field.source_field or name, isinstance(field, SealedJSONField))


def _stored_value(column: SealedColumn, raw: Any) -> Any:
    """A raw column value as the sealed field sees it: JSON is decoded (a sealed JSON value is a string)."""
    if column.json and isinstance(raw, (str, bytes)):
        return orjson.loads(raw)
    return raw


def _placeholders(conn: BaseDBAsyncClient, count: int) -> list[str]:
    if conn.capabilities.dialect == "sqlite":
        return ["?"] * count
    return [f"${n}" for n in range(1, count + 1)]


async def _rows(conn: BaseDBAsyncClient, column: SealedColumn) -> list[tuple[Any, Any]]:
    rows = await conn.execute_query_dict(
        f'SELECT "{column.pk}" AS pk, "{column.column}" AS value FROM "{column.table}" '
        f'WHERE "{column.column}" IS NOT NULL')
    return [(row["pk"], row["value"]) for row in rows]


async def _replace(conn: BaseDBAsyncClient, column: SealedColumn, pk: Any, old_raw: Any, stored: str) -> bool:
    """Write `stored` only if the row still holds `old_raw`: a row changed meanwhile is left alone."""
    new_marker, pk_marker, old_marker = _placeholders(conn, 3)
    new_value = orjson.dumps(stored).decode() if column.json else stored
    count, _ = await conn.execute_query(
        f'UPDATE "{column.table}" SET "{column.column}" = {new_marker} '
        f'WHERE "{column.pk}" = {pk_marker} AND "{column.column}" = {old_marker}', [new_value, pk, old_raw])
    return bool(count)


def _plaintext_of(column: SealedColumn, value: Any) -> str:
    # A legacy JSON row holds the document itself; the sealed form encrypts its JSON text.
    if column.json:
        return orjson.dumps(value).decode()
    return str(value)


async def count_sealed() -> int:
    """How many stored values are sealed (whatever key sealed them)."""
    conn = connections.get("default")
    total = 0
    for column in sealed_columns():
        total += sum(1 for _, raw in await _rows(conn, column) if is_sealed(_stored_value(column, raw)))
    return total


async def check_keys(keyring: Keyring) -> None:
    """Refuse to go on when a stored secret is sealed with no key of the keyring; raises SecretsError."""
    conn = connections.get("default")
    for column in sealed_columns():
        unreadable = 0
        for _, raw in await _rows(conn, column):
            value = _stored_value(column, raw)
            if is_sealed(value):
                try:
                    keyring.decrypt(value[len(PREFIX):])
                except SecretsError:
                    unreadable += 1
        if unreadable:
            raise SecretsError(
                f"{unreadable} stored secret(s) in {column.label} cannot be decrypted with the keys of "
                f"{keyring.origin}: give the key they were encrypted with (a wrong or replaced key?)")


async def reseal(keyring: Keyring, only_plaintext: bool) -> tuple[int, int]:
    """Seal legacy plaintext values and, unless `only_plaintext`, re-encrypt every value with the first key.

    Runs in one transaction. Returns (values written, values skipped because they changed meanwhile).
    """
    written = skipped = 0
    async with in_transaction() as conn:
        for column in sealed_columns():
            for pk, raw in await _rows(conn, column):
                value = _stored_value(column, raw)
                if is_sealed(value):
                    token = value[len(PREFIX):]
                    if only_plaintext or keyring.is_current(token):
                        continue
                    plaintext = keyring.decrypt(token)
                else:
                    plaintext = _plaintext_of(column, value)
                if await _replace(conn, column, pk, raw, PREFIX + keyring.encrypt(plaintext)):
                    written += 1
                else:
                    skipped += 1
    if written:
        await _compact(connections.get("default"))
    return written, skipped


async def _compact(conn: BaseDBAsyncClient) -> None:
    # An UPDATE leaves the old value in free pages and in the WAL: on SQLite, rebuild the file so the
    # plaintext (or the tokens of a retired key) is gone from it. PostgreSQL's dead tuples and WAL are
    # the operator's to handle (see the README).
    if conn.capabilities.dialect == "sqlite":
        await conn.execute_script("VACUUM")
        await conn.execute_script("PRAGMA wal_checkpoint(TRUNCATE)")


@asynccontextmanager
async def secrets_at_rest(settings: Settings, seal_plaintext: bool = True) -> AsyncIterator[Keyring]:
    """Load the secret key for the open database, check it, and seal what older installs left plain.

    Raises SecretsError (naming the setting) before anything is served when the key cannot decrypt what
    is stored, so a wrong key stops the server at start and not at the first request that needs a secret.
    """
    path = secret_key_path(settings)
    # Only a key file about to be created needs to know whether anything is sealed already.
    about_to_create = not settings.secret_keys and path is not None and not path.exists()
    keyring, created = load_keyring(settings, may_create=not about_to_create or await count_sealed() == 0)
    if created:
        log.warning("Created the secret key file %s (mode 0600): back it up apart from the database; "
                    "without it the stored secrets cannot be read", path)
    await check_keys(keyring)
    with use_keyring(keyring):
        if seal_plaintext:
            written, _ = await reseal(keyring, only_plaintext=True)
            if written:
                log.info("Encrypted %s secret(s) stored in plaintext by an older version", written)
        yield keyring
