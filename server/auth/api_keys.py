"""Authenticating a presented API key, and recording when keys were last used without writing on the hot path."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime

from resolvers.credentials import API_KEY, secret_hash, well_formed
from resolvers.errors import Unauthorized
from resolvers.principal import Principal
from server.auth.identity import Identity
from server.models.access import ApiKey
from server.models.base import select_one
from server.models.datasets import DatasetListVersion


def _refused(reason: str, message: str) -> Unauthorized:
    return Unauthorized(message, {"reason": reason})


_COLUMNS = ("id", "workspace_id", "scopes", "allowed_cidrs", "expires_at", "revoked_at")
# Read with the key, in its statement: a cached list then costs no statement of its own.
_LIST_VERSIONS = {"datasets": DatasetListVersion}


def _network_allowed(allowed_cidrs: list[str], address: str | None) -> bool:
    if not allowed_cidrs:
        return True
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(cidr) for cidr in allowed_cidrs)


async def authenticate_key(secret: str, address: str | None, now: datetime | None = None) -> Identity:
    """The identity of a presented API key; raises Unauthorized (malformed, unknown, revoked, expired, network)."""
    if not well_formed(secret, API_KEY):
        raise _refused("malformed", "The API key is malformed")
    row = await select_one(ApiKey, _COLUMNS, "key_hash", secret_hash(secret), versions=_LIST_VERSIONS)
    now = now or datetime.now(UTC)
    if row is None:
        raise _refused("unknown", "The API key is not valid")
    if row["revoked_at"] is not None:
        raise _refused("revoked", "The API key was revoked")
    expires_at = row["expires_at"]
    if expires_at is not None and expires_at <= now:
        raise _refused("expired", "The API key has expired")
    if not _network_allowed(row["allowed_cidrs"] or [], address):
        raise _refused("network", "The API key may not be used from this network")
    key_id = row["id"]
    principal = Principal(subject=f"key:{key_id}", workspace_id=row["workspace_id"],
                          scopes=frozenset(row["scopes"] or ()), credential_id=key_id)
    return Identity(principal=principal, expires_at=expires_at, rate_key=key_id, kind="api_key",
                    list_versions={name: row[name] for name in _LIST_VERSIONS})


class UsageRecorder:
    """Collects `last_used_at` in memory so the hot path never writes; `flush` stores it."""

    def __init__(self) -> None:
        self._pending: dict[str, datetime] = {}

    def touch(self, key_id: str, when: datetime | None = None) -> None:
        """Remember that a key was used (no I/O)."""
        self._pending[key_id] = when or datetime.now(UTC)

    async def flush(self) -> int:
        """Write the pending times, one UPDATE per key; returns how many keys were written."""
        pending, self._pending = self._pending, {}
        for key_id, when in pending.items():
            await ApiKey.filter(id=key_id).update(last_used_at=when)
        return len(pending)
