"""Workspaces, API keys and OAuth clients (admin credentials only)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from docc.models.common import Input, Model


class Workspace(Model):
    id: str
    name: str
    created_at: datetime
    updated_at: datetime


class ApiKey(Model):
    """A key as listed: its visible prefix, never the key."""

    id: str
    workspace_id: str
    name: str
    prefix: str
    scopes: list[str]
    allowed_cidrs: list[str]
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
    rotated_from: str | None = None
    created_at: datetime


class CreatedApiKey(ApiKey):
    """A new key: `key` is shown this once."""

    key: str


class ClientSecret(Model):
    id: str
    prefix: str
    description: str
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    created_at: datetime


class CreatedClientSecret(ClientSecret):
    """A new client secret: `secret` is shown this once."""

    secret: str


class OAuthClient(Model):
    client_id: str
    workspace_id: str
    name: str
    scopes: list[str]
    redirect_uris: list[str]
    revoked_at: datetime | None = None
    created_at: datetime
    secrets: list[ClientSecret]


class CreatedOAuthClient(OAuthClient):
    """A new client: its first secret is shown this once."""

    secrets: list[CreatedClientSecret]  # type: ignore[assignment]
    # Newer servers also answer the secret at the top level.
    client_secret: str | None = None

    @property
    def secret(self) -> str:
        return self.client_secret or self.secrets[0].secret


class WorkspaceCreate(Input):
    name: str


class KeyCreate(Input):
    name: str
    scopes: list[str]
    expires_in: str | None = None
    expires_at: str | None = None
    allowed_cidrs: list[str] = Field(default_factory=list)


class KeyRotate(Input):
    grace_seconds: int = 3600


class ClientCreate(Input):
    name: str
    scopes: list[str]
    redirect_uris: list[str] = Field(default_factory=list)
    secret_expires_in: str | None = None


class SecretCreate(Input):
    description: str = ""
    expires_in: str | None = None
    expires_at: str | None = None
