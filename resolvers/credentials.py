"""Opaque secrets (API keys, client secrets, refresh tokens): format, checksum, hash.

A secret reads `<kind>_<30 random base62 characters>_<6 character checksum>`, e.g.
`docc_4kQ...Zt_0bX1aQ`. The checksum (CRC-32 of the rest) lets a typo or a truncated paste be
refused before any database lookup; the database stores only SHA-256 of the whole secret.

These are pure functions and they stay in the domain: creating a key or a client secret is a use case
here (it mints the secret and stores its hash), and authentication (server.auth) checks a presented
secret with the same functions, one layer up.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import zlib

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
BODY_LENGTH = 30
API_KEY, CLIENT_SECRET, REFRESH_TOKEN = "docc", "doccs", "doccr"
_SHAPE = re.compile(r"^(docc|doccs|doccr)_([0-9A-Za-z]{30})_([0-9A-Za-z]{6})$")


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        digits.append(ALPHABET[digit])
    return "".join(reversed(digits))


def _checksum(head: str) -> str:
    return _base62(zlib.crc32(head.encode()), 6)


def new_secret(kind: str) -> str:
    """A fresh secret of `kind` (about 178 random bits) with its checksum."""
    head = f"{kind}_{''.join(secrets.choice(ALPHABET) for _ in range(BODY_LENGTH))}"
    return f"{head}_{_checksum(head)}"


def well_formed(secret: str, kind: str) -> bool:
    """True when `secret` has the shape and a valid checksum of `kind`; no I/O."""
    match = _SHAPE.match(secret)
    if match is None or match.group(1) != kind:
        return False
    head = f"{match.group(1)}_{match.group(2)}"
    return secrets.compare_digest(_checksum(head), match.group(3))


def secret_hash(secret: str) -> str:
    """SHA-256 hex of a secret; a salt adds nothing to 178 random bits."""
    return hashlib.sha256(secret.encode()).hexdigest()


def visible_prefix(secret: str) -> str:
    """The part of a secret that may be shown again: its kind and first 8 random characters."""
    kind, _, rest = secret.partition("_")
    return f"{kind}_{rest[:8]}"
