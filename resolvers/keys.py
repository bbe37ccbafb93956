"""API keys of a workspace: create, list, revoke, rotate (authenticating one is server.auth.api_keys)."""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime, timedelta

import pydantic
from tortoise.transactions import in_transaction

from resolvers.access import managed_workspace
from resolvers.credentials import API_KEY, new_secret, secret_hash, visible_prefix
from resolvers.errors import NotFound, ValidationError
from resolvers.ownership import require_id
from resolvers.pagination import Page, PageRequest, paginate
from resolvers.principal import Principal
from resolvers.scopes import check_scopes
from resolvers.validation import StrictInput, in_utc
from resolvers.views.access import ApiKeyView, CreatedKey
from server.models.access import ApiKey
from server.models.base import new_id

_DURATION = re.compile(r"^(\d{1,6})([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


class KeyCreate(StrictInput):
    name: str = pydantic.Field(min_length=1, max_length=100)
    scopes: list[str] = pydantic.Field(max_length=20)
    expires_in: str | None = None
    expires_at: str | None = None
    allowed_cidrs: list[str] = pydantic.Field(default_factory=list, max_length=50)


def parse_duration(text: str, field: str = "expires_in") -> timedelta:
    """`30d`, `12h`, `15m`, `90s`, `2w` as a timedelta; raises ValidationError."""
    match = _DURATION.match(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise ValidationError("Invalid duration", field=field, reason="Expected e.g. 30d, 12h, 15m or 90s")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def parse_instant(text: str, field: str) -> datetime:
    """An RFC 3339 instant (a naive one is taken as UTC); raises ValidationError."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError("Invalid date-time", field=field, reason="Expected RFC 3339") from None
    return in_utc(value, field)  # type: ignore[return-value]


def _networks(cidrs: list[str]) -> list[str]:
    networks = []
    for index, cidr in enumerate(cidrs):
        try:
            networks.append(str(ipaddress.ip_network(cidr, strict=False)))
        except ValueError:
            raise ValidationError("Invalid network", field=f"allowed_cidrs[{index}]",
                                  reason="Expected a CIDR such as 10.0.0.0/8") from None
    return networks


def _expiry(spec: KeyCreate, now: datetime) -> datetime | None:
    if spec.expires_in and spec.expires_at:
        raise ValidationError("Give expires_in or expires_at, not both", field="expires_at",
                              reason="Both given")
    if spec.expires_in:
        return now + parse_duration(spec.expires_in)
    if spec.expires_at:
        when = parse_instant(spec.expires_at, "expires_at")
        if when <= now:
            raise ValidationError("The expiry is in the past", field="expires_at", reason="Must be in the future")
        return when
    return None


async def store_key(workspace_id: str, spec: KeyCreate, created_by: str) -> CreatedKey:
    """Store a new key of a workspace, with no permission check (the `create-key` command bootstraps the first
    admin key with it); raises ValidationError."""
    scopes = check_scopes(spec.scopes)
    now = datetime.now(UTC)
    expires_at, networks = _expiry(spec, now), _networks(spec.allowed_cidrs)
    secret = new_secret(API_KEY)
    row = await ApiKey.create(id=new_id("key"), workspace_id=workspace_id, name=spec.name,
                              prefix=visible_prefix(secret), key_hash=secret_hash(secret), scopes=scopes,
                              allowed_cidrs=networks, expires_at=expires_at, created_by=created_by)
    return CreatedKey(ApiKeyView.from_row(row), secret)


async def create_key(principal: Principal, workspace_id: str, spec: KeyCreate) -> CreatedKey:
    """A new API key of a workspace the caller manages; raises Forbidden, NotFound, ValidationError."""
    await managed_workspace(principal, workspace_id)
    return await store_key(workspace_id, spec, principal.subject)


async def list_keys(principal: Principal, workspace_id: str, page: PageRequest) -> Page[ApiKeyView]:
    """A page of a workspace's keys, newest first, revoked ones included; raises Forbidden, NotFound."""
    await managed_workspace(principal, workspace_id)
    return (await paginate(ApiKey.filter(workspace_id=workspace_id), page)).map(ApiKeyView.from_row)


async def _key(workspace_id: str, key_id: str) -> ApiKey:
    row = await ApiKey.get_or_none(id=require_id("api key", key_id), workspace_id=workspace_id)
    if row is None:
        raise NotFound("api key", key_id)
    return row


async def revoke_key(principal: Principal, workspace_id: str, key_id: str) -> ApiKeyView:
    """Revoke a key at once (idempotent); raises Forbidden, NotFound."""
    await managed_workspace(principal, workspace_id)
    row = await _key(workspace_id, key_id)
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        await row.save(update_fields=["revoked_at", "updated_at"])
    return ApiKeyView.from_row(row)


async def rotate_key(principal: Principal, workspace_id: str, key_id: str, grace_seconds: int) -> CreatedKey:
    """A new key like the old one; the old one keeps working `grace_seconds` more.

    Raises Forbidden, NotFound, ValidationError.
    """
    await managed_workspace(principal, workspace_id)
    if not 0 <= grace_seconds <= 30 * 86_400:
        raise ValidationError("Invalid grace period", field="grace_seconds", reason="Between 0 and 2592000")
    old = await _key(workspace_id, key_id)
    now = datetime.now(UTC)
    if old.revoked_at is not None or (old.expires_at is not None and old.expires_at <= now):
        raise ValidationError("A revoked or expired key cannot be rotated", field="key_id", reason="Not active")
    secret = new_secret(API_KEY)
    until = now + timedelta(seconds=grace_seconds)
    async with in_transaction():
        row = await ApiKey.create(id=new_id("key"), workspace_id=workspace_id, name=old.name,
                                  prefix=visible_prefix(secret), key_hash=secret_hash(secret), scopes=old.scopes,
                                  allowed_cidrs=old.allowed_cidrs, expires_at=old.expires_at,
                                  rotated_from=old.id, created_by=principal.subject)
        await ApiKey.filter(id=old.id).update(
            expires_at=until if old.expires_at is None else min(until, old.expires_at), updated_at=now)
    return CreatedKey(ApiKeyView.from_row(row), secret)
