"""Model fields whose values are encrypted in the database and plain in Python.

A sealed value is stored as `fernet:<token>`: in a text column as such, in a JSON column as a JSON
string. Reading gives the plain value back, so the domain, the surfaces and the engine see what they
saw before; the database (and anyone who copies its file) sees only tokens. A value without the prefix
is a plaintext row of an older install: it reads as it is and is sealed at the next start.
"""

from __future__ import annotations

from typing import Any

import orjson
from tortoise import fields

from server.crypto.keys import active_keyring

PREFIX = "fernet:"


def is_sealed(raw: Any) -> bool:
    """True when a stored (database) value is a sealed token rather than a legacy plaintext."""
    return isinstance(raw, str) and raw.startswith(PREFIX)


def seal(plaintext: str) -> str:
    """The stored form of a secret text, encrypted with the first key."""
    return PREFIX + active_keyring().encrypt(plaintext)


def unseal(stored: str) -> str:
    """The plaintext of a stored form; raises SecretsError when no key decrypts it."""
    return active_keyring().decrypt(stored[len(PREFIX):])


class SealedTextField(fields.TextField):
    """Text encrypted at rest (signing key material and the like)."""

    def to_db_value(self, value: Any, instance: Any) -> str | None:
        if value is None:
            return None
        text = str(value)
        # An already sealed value (copied from another row) is stored as it is, never sealed twice.
        return text if is_sealed(text) else seal(text)

    def to_python_value(self, value: Any) -> str | None:
        if value is None:
            return None
        return unseal(value) if is_sealed(value) else value


class SealedJSONField(fields.JSONField):
    """A JSON document encrypted as a whole at rest (a dataset source with its connection string).

    The column keeps its JSON type: the sealed form is a JSON string, which every dialect accepts.
    """

    def to_db_value(self, value: Any, instance: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, (str, bytes)):
            value = self.decoder(value)
        if is_sealed(value):
            return orjson.dumps(value).decode()
        return orjson.dumps(seal(orjson.dumps(value).decode())).decode()

    def to_python_value(self, value: Any) -> Any:
        if isinstance(value, (str, bytes)):
            value = self.decoder(value)
        if is_sealed(value):
            return orjson.loads(unseal(value))
        return value
