"""OAuth clients of a workspace: register, list, revoke; each holds several expiring secrets.

Authenticating a client at the token endpoint is server.auth.grants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pydantic
from tortoise.transactions import in_transaction

from resolvers.access import managed_workspace
from resolvers.credentials import CLIENT_SECRET, new_secret, secret_hash, visible_prefix
from resolvers.errors import NotFound, ValidationError
from resolvers.keys import parse_duration, parse_instant
from resolvers.ownership import require_id
from resolvers.pagination import Page, PageRequest, paginate
from resolvers.principal import Principal
from resolvers.scopes import check_scopes
from resolvers.validation import StrictInput
from resolvers.views.access import ClientSecretView, CreatedClient, CreatedSecret, OAuthClientView
from server.models.access import OAuthClient, OAuthClientSecret
from server.models.base import new_id

DEFAULT_SECRET_LIFETIME = timedelta(days=90)


class ClientCreate(StrictInput):
    name: str = pydantic.Field(min_length=1, max_length=100)
    scopes: list[str] = pydantic.Field(max_length=20)
    redirect_uris: list[str] = pydantic.Field(default_factory=list, max_length=20)
    secret_expires_in: str | None = None


class SecretCreate(StrictInput):
    description: str = pydantic.Field(default="", max_length=200)
    expires_in: str | None = None
    expires_at: str | None = None


def _redirects(uris: list[str]) -> list[str]:
    for index, uri in enumerate(uris):
        parts = urlsplit(uri)
        local = parts.hostname in {"localhost", "127.0.0.1", "::1"}
        if parts.fragment or not parts.netloc or not (parts.scheme == "https" or (parts.scheme == "http" and local)):
            raise ValidationError("Invalid redirect URI", field=f"redirect_uris[{index}]",
                                  reason="Expected an absolute https URL (http only for localhost), no fragment")
    return list(dict.fromkeys(uris))


def _secret_expiry(expires_in: str | None, expires_at: str | None, now: datetime,
                   in_field: str = "expires_in") -> datetime:
    if expires_in and expires_at:
        raise ValidationError("Give expires_in or expires_at, not both", field="expires_at", reason="Both given")
    if expires_at:
        when = parse_instant(expires_at, "expires_at")
        if when <= now:
            raise ValidationError("The expiry is in the past", field="expires_at", reason="Must be in the future")
        return when
    return now + (parse_duration(expires_in, in_field) if expires_in else DEFAULT_SECRET_LIFETIME)


async def _store_secret(client_id: str, description: str, expires_at: datetime) -> CreatedSecret:
    secret = new_secret(CLIENT_SECRET)
    row = await OAuthClientSecret.create(id=new_id("ocs"), client_id=client_id, prefix=visible_prefix(secret),
                                         secret_hash=secret_hash(secret), description=description,
                                         expires_at=expires_at)
    return CreatedSecret(ClientSecretView.from_row(row), secret)


async def register_client(principal: Principal, workspace_id: str, spec: ClientCreate) -> CreatedClient:
    """A new client of a workspace the caller manages, with its first secret.

    Raises Forbidden, NotFound, ValidationError.
    """
    await managed_workspace(principal, workspace_id)
    scopes, redirects = check_scopes(spec.scopes), _redirects(spec.redirect_uris)
    expires_at = _secret_expiry(spec.secret_expires_in, None, datetime.now(UTC), "secret_expires_in")
    async with in_transaction():
        client = await OAuthClient.create(id=new_id("oc"), workspace_id=workspace_id, name=spec.name,
                                          scopes=scopes, redirect_uris=redirects)
        secret = await _store_secret(client.id, "initial", expires_at)
    await client.fetch_related("secrets")
    return CreatedClient(OAuthClientView.from_row(client), secret)


async def _client(workspace_id: str, client_id: str) -> OAuthClient:
    """One client of a workspace with its secrets; raises NotFound."""
    client = await OAuthClient.get_or_none(id=require_id("oauth client", client_id),
                                           workspace_id=workspace_id).prefetch_related("secrets")
    if client is None:
        raise NotFound("oauth client", client_id)
    return client


async def list_clients(principal: Principal, workspace_id: str, page: PageRequest) -> Page[OAuthClientView]:
    """A page of a workspace's clients with their secrets, newest first; raises Forbidden, NotFound."""
    await managed_workspace(principal, workspace_id)
    page_of_rows = await paginate(OAuthClient.filter(workspace_id=workspace_id).prefetch_related("secrets"), page)
    return page_of_rows.map(OAuthClientView.from_row)


async def revoke_client(principal: Principal, workspace_id: str, client_id: str) -> OAuthClientView:
    """Revoke a client: its tokens stop working at once (idempotent); raises Forbidden, NotFound."""
    await managed_workspace(principal, workspace_id)
    client = await _client(workspace_id, client_id)
    if client.revoked_at is None:
        client.revoked_at = datetime.now(UTC)
        await client.save(update_fields=["revoked_at", "updated_at"])
    return OAuthClientView.from_row(client)


async def add_secret(principal: Principal, workspace_id: str, client_id: str, spec: SecretCreate) -> CreatedSecret:
    """Another secret for a client (rotation: revoke the old one after); raises Forbidden, NotFound,
    ValidationError."""
    await managed_workspace(principal, workspace_id)
    client = await _client(workspace_id, client_id)
    if client.revoked_at is not None:
        raise ValidationError("The client is revoked", field="client_id", reason="Not active")
    if len([s for s in client.secrets if s.revoked_at is None]) >= 10:
        raise ValidationError("Too many secrets", field="client_id", reason="At most 10 active secrets")
    expires_at = _secret_expiry(spec.expires_in, spec.expires_at, datetime.now(UTC))
    return await _store_secret(client.id, spec.description, expires_at)


async def revoke_secret(principal: Principal, workspace_id: str, client_id: str, secret_id: str
                        ) -> ClientSecretView:
    """Revoke one secret of a client (idempotent); raises Forbidden, NotFound."""
    await managed_workspace(principal, workspace_id)
    client = await _client(workspace_id, client_id)
    row = next((s for s in client.secrets if s.id == secret_id), None)
    if row is None:
        raise NotFound("client secret", secret_id)
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        await row.save(update_fields=["revoked_at"])
    return ClientSecretView.from_row(row)
