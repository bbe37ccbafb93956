"""Authenticating a presented API key, and recording when keys were last used without writing on the hot path."""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from resolvers.credentials import API_KEY, secret_hash, well_formed
from resolvers.errors import Unauthorized
from resolvers.principal import Principal
from server.auth.identity import Identity
from server.models.access import ApiKey
from server.models.base import select_row
from server.models.datasets import DatasetListVersion


def _refused(reason: str, message: str) -> Unauthorized:
    return Unauthorized(message, {"reason": reason})


_COLUMNS = ("id", "workspace_id", "scopes", "allowed_cidrs", "expires_at", "revoked_at")
# Read with the key, in its statement: a cached list then costs no statement of its own.
_LIST_VERSIONS = {"datasets": DatasetListVersion}


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _network_allowed(networks: tuple[Network, ...], address: str | None) -> bool:
    if not networks:
        return True
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip in network for network in networks)


@dataclass(frozen=True, slots=True)
class _KeyRow:
    """A key's row as stored (`raw`) and what it says, converted once."""

    raw: tuple[object, ...]
    principal: Principal
    expires_at: datetime | None
    revoked: bool
    networks: tuple[Network, ...]


def _converted(raw: tuple[object, ...]) -> _KeyRow:
    fields = ApiKey._meta.fields_map
    values = {name: fields[name].to_python_value(raw[index]) for index, name in enumerate(_COLUMNS)}
    key_id = values["id"]
    principal = Principal(subject=f"key:{key_id}", workspace_id=values["workspace_id"],
                          scopes=frozenset(values["scopes"] or ()), credential_id=key_id)
    return _KeyRow(raw, principal, values["expires_at"], values["revoked_at"] is not None,
                   tuple(ipaddress.ip_network(cidr) for cidr in values["allowed_cidrs"] or ()))


class _KnownKeys:
    """The converted rows of recently used keys, by the key's hash (never the key itself).

    The row is still read on every request; only when it comes back exactly as before is its conversion
    (JSON scopes and networks, timestamps, the principal) reused. A changed row (revoked, new scopes, a new
    expiry) is converted again, so nothing here can outlive a change to the key.
    """

    def __init__(self, capacity: int = 1024) -> None:
        self.capacity = capacity
        self._rows: OrderedDict[str, _KeyRow] = OrderedDict()

    def get(self, digest: str) -> _KeyRow | None:
        return self._rows.get(digest)

    def row(self, digest: str, raw: Sequence[object]) -> _KeyRow:
        raw = tuple(raw)
        known = self._rows.get(digest)
        if known is not None and known.raw == raw:
            return known
        known = self._rows[digest] = _converted(raw)
        self._rows.move_to_end(digest)
        while len(self._rows) > self.capacity:
            self._rows.popitem(last=False)
        return known


_KNOWN = _KnownKeys()


async def authenticate_key(secret: str, address: str | None, now: datetime | None = None) -> Identity:
    """The identity of a presented API key; raises Unauthorized (malformed, unknown, revoked, expired, network)."""
    digest = secret_hash(secret)
    # A hash seen with a stored row came from a well-formed key: the shape and checksum need no second look.
    if _KNOWN.get(digest) is None and not well_formed(secret, API_KEY):
        raise _refused("malformed", "The API key is malformed")
    found = await select_row(ApiKey, _COLUMNS, "key_hash", digest, versions=_LIST_VERSIONS)
    if found is None:
        raise _refused("unknown", "The API key is not valid")
    key = _KNOWN.row(digest, found[:len(_COLUMNS)])
    if key.revoked:
        raise _refused("revoked", "The API key was revoked")
    expires_at = key.expires_at
    if expires_at is not None and expires_at <= (now or datetime.now(UTC)):
        raise _refused("expired", "The API key has expired")
    if not _network_allowed(key.networks, address):
        raise _refused("network", "The API key may not be used from this network")
    versions = {name: int(found[offset] or 0) for offset, name in enumerate(_LIST_VERSIONS, start=len(_COLUMNS))}
    principal = key.principal
    return Identity(principal=principal, expires_at=expires_at, rate_key=principal.credential_id or "",
                    kind="api_key", list_versions=versions)


class UsageRecorder:
    """Collects `last_used_at` in memory so the hot path never writes; `flush` stores it."""

    def __init__(self) -> None:
        # A Unix time until flushed: making a datetime for every request costs more than keeping a number.
        self._pending: dict[str, datetime | float] = {}

    def touch(self, key_id: str, when: datetime | None = None) -> None:
        """Remember that a key was used (no I/O)."""
        self._pending[key_id] = when or time.time()

    async def flush(self) -> int:
        """Write the pending times, one UPDATE per key; returns how many keys were written."""
        pending, self._pending = self._pending, {}
        for key_id, when in pending.items():
            if not isinstance(when, datetime):
                when = datetime.fromtimestamp(when, UTC)
            await ApiKey.filter(id=key_id).update(last_used_at=when)
        return len(pending)
