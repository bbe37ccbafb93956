"""Read models of access management: workspaces, API keys, OAuth clients and their secrets.

Hashes never leave the domain: a view holds the visible prefix of a secret, and the secret itself only
in the `Created*` results of the one call that minted it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from server.models.access import ApiKey, OAuthClient, OAuthClientSecret
from server.models.core import Workspace


@dataclass(frozen=True, slots=True)
class WorkspaceView:
    id: str
    name: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Workspace) -> WorkspaceView:
        return cls(id=row.id, name=row.name, created_at=row.created_at, updated_at=row.updated_at)


@dataclass(frozen=True, slots=True)
class ApiKeyView:
    id: str
    workspace_id: str
    name: str
    prefix: str
    scopes: tuple[str, ...]
    allowed_cidrs: tuple[str, ...]
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    rotated_from: str | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: ApiKey) -> ApiKeyView:
        return cls(id=row.id, workspace_id=row.workspace_id, name=row.name, prefix=row.prefix,
                   scopes=tuple(row.scopes), allowed_cidrs=tuple(row.allowed_cidrs), expires_at=row.expires_at,
                   revoked_at=row.revoked_at, last_used_at=row.last_used_at, rotated_from=row.rotated_from,
                   created_at=row.created_at)


@dataclass(frozen=True, slots=True)
class ClientSecretView:
    id: str
    prefix: str
    description: str
    expires_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: OAuthClientSecret) -> ClientSecretView:
        return cls(id=row.id, prefix=row.prefix, description=row.description, expires_at=row.expires_at,
                   revoked_at=row.revoked_at, created_at=row.created_at)


@dataclass(frozen=True, slots=True)
class OAuthClientView:
    id: str
    workspace_id: str
    name: str
    scopes: tuple[str, ...]
    redirect_uris: tuple[str, ...]
    revoked_at: datetime | None
    created_at: datetime
    secrets: tuple[ClientSecretView, ...]

    @classmethod
    def from_row(cls, row: OAuthClient) -> OAuthClientView:
        """The client with its secrets (prefetched by the caller: no query here)."""
        return cls(id=row.id, workspace_id=row.workspace_id, name=row.name, scopes=tuple(row.scopes),
                   redirect_uris=tuple(row.redirect_uris), revoked_at=row.revoked_at, created_at=row.created_at,
                   secrets=tuple(ClientSecretView.from_row(s) for s in row.secrets))


@dataclass(frozen=True, slots=True)
class CreatedKey:
    """A stored key and its secret, which is shown this once and never again."""

    key: ApiKeyView
    secret: str


@dataclass(frozen=True, slots=True)
class CreatedSecret:
    """A stored client secret and its value, shown this once."""

    view: ClientSecretView
    secret: str


@dataclass(frozen=True, slots=True)
class CreatedClient:
    """A new client and its first secret, whose value is shown this once."""

    client: OAuthClientView
    secret: CreatedSecret


@dataclass(frozen=True, slots=True)
class Authorization:
    """An approved authorization request: the code, the redirect URL carrying it, and its lifetime."""

    code: str
    redirect_to: str
    expires_in: int
