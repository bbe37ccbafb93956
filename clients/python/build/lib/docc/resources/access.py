"""Workspaces, API keys and OAuth clients: admin credentials only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from docc import routes
from docc._core import Flow
from docc.models.access import (
    ApiKey,
    ClientCreate,
    ClientSecret,
    CreatedApiKey,
    CreatedClientSecret,
    CreatedOAuthClient,
    KeyCreate,
    KeyRotate,
    OAuthClient,
    SecretCreate,
    Workspace,
    WorkspaceCreate,
)
from docc.resources.base import R, Resource, body_of, listing, one, operation, rows

DEFAULT = "ws_default"


class Workspaces(Resource[R]):
    @listing
    def list(self) -> Flow[Workspace]:
        return self._pages(routes.LIST_WORKSPACES.call(rows(Workspace.model_validate)))

    @operation
    def get(self, workspace_id: str) -> Flow[Workspace]:
        return self._request(routes.GET_WORKSPACE.call(one(Workspace.model_validate), workspace_id=workspace_id))

    @operation
    def create(self, name: str) -> Flow[Workspace]:
        """A new workspace (admins of ws_default only)."""
        return self._request(routes.CREATE_WORKSPACE.call(one(Workspace.model_validate),
                                                          json=WorkspaceCreate(name=name).body()))


class Keys(Resource[R]):
    """API keys of a workspace; a new or rotated key's secret is in the answer once."""

    @listing
    def list(self, workspace_id: str = DEFAULT) -> Flow[ApiKey]:
        return self._pages(routes.LIST_KEYS.call(rows(ApiKey.model_validate), workspace_id=workspace_id))

    @operation
    def create(self, workspace_id: str = DEFAULT, spec: KeyCreate | dict[str, Any] | None = None,
               **fields: Any) -> Flow[CreatedApiKey]:
        """`name=`, `scopes=`, and optionally `expires_in="30d"` or `expires_at=`, `allowed_cidrs=`."""
        if isinstance(fields.get("expires_at"), datetime):
            fields["expires_at"] = fields["expires_at"].isoformat()
        return self._request(routes.CREATE_KEY.call(one(CreatedApiKey.model_validate),
                                                    json=body_of(KeyCreate, spec, fields), workspace_id=workspace_id))

    @operation
    def revoke(self, key_id: str, workspace_id: str = DEFAULT) -> Flow[ApiKey]:
        return self._request(routes.REVOKE_KEY.call(one(ApiKey.model_validate), workspace_id=workspace_id,
                                                    key_id=key_id))

    @operation
    def rotate(self, key_id: str, workspace_id: str = DEFAULT, *, grace_seconds: int = 3600
               ) -> Flow[CreatedApiKey]:
        """A new key with the same settings; the old one keeps working `grace_seconds` more."""
        return self._request(routes.ROTATE_KEY.call(one(CreatedApiKey.model_validate),
                                                    json=KeyRotate(grace_seconds=grace_seconds).model_dump(),
                                                    workspace_id=workspace_id, key_id=key_id))


class OAuthClients(Resource[R]):
    """OAuth clients of a workspace and their secrets; a new secret is in the answer once."""

    @listing
    def list(self, workspace_id: str = DEFAULT) -> Flow[OAuthClient]:
        return self._pages(routes.LIST_CLIENTS.call(rows(OAuthClient.model_validate), workspace_id=workspace_id))

    @operation
    def create(self, workspace_id: str = DEFAULT, spec: ClientCreate | dict[str, Any] | None = None,
               **fields: Any) -> Flow[CreatedOAuthClient]:
        """`name=`, `scopes=`, optionally `redirect_uris=`, `secret_expires_in=`; answers the first secret."""
        return self._request(routes.CREATE_CLIENT.call(one(CreatedOAuthClient.model_validate),
                                                       json=body_of(ClientCreate, spec, fields),
                                                       workspace_id=workspace_id))

    @operation
    def revoke(self, client_id: str, workspace_id: str = DEFAULT) -> Flow[OAuthClient]:
        """Revoke the client, and so every token it holds."""
        return self._request(routes.REVOKE_CLIENT.call(one(OAuthClient.model_validate), workspace_id=workspace_id,
                                                       client_id=client_id))

    @operation
    def add_secret(self, client_id: str, workspace_id: str = DEFAULT,
                   spec: SecretCreate | dict[str, Any] | None = None, **fields: Any) -> Flow[CreatedClientSecret]:
        return self._request(routes.ADD_SECRET.call(one(CreatedClientSecret.model_validate),
                                                    json=body_of(SecretCreate, spec, fields),
                                                    workspace_id=workspace_id, client_id=client_id))

    @operation
    def revoke_secret(self, client_id: str, secret_id: str, workspace_id: str = DEFAULT) -> Flow[ClientSecret]:
        return self._request(routes.REVOKE_SECRET.call(one(ClientSecret.model_validate), workspace_id=workspace_id,
                                                       client_id=client_id, secret_id=secret_id))
