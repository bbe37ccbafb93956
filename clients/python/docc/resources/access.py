"""Workspaces, API keys and OAuth clients: admin credentials only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from docc._core import API, Call, Flow
from docc.models.access import (
    ApiKey,
    ClientCreate,
    ClientSecret,
    CreatedApiKey,
    CreatedClientSecret,
    CreatedOAuthClient,
    KeyCreate,
    OAuthClient,
    SecretCreate,
    Workspace,
)
from docc.resources.base import R, Resource, body_of, listing, one, operation, path_id, rows


class Workspaces(Resource[R]):
    @listing
    def list(self) -> Flow[Workspace]:
        return self._pages(Call("GET", f"{API}/workspaces", rows(Workspace.model_validate)))

    @operation
    def get(self, workspace_id: str) -> Flow[Workspace]:
        return self._request(Call("GET", f"{API}/workspaces/{path_id(workspace_id)}", one(Workspace.model_validate)))

    @operation
    def create(self, name: str) -> Flow[Workspace]:
        """A new workspace (admins of ws_default only)."""
        return self._request(Call("POST", f"{API}/workspaces", one(Workspace.model_validate), json={"name": name}))


class Keys(Resource[R]):
    """API keys of a workspace; a new or rotated key's secret is in the answer once."""

    @listing
    def list(self, workspace_id: str = "ws_default") -> Flow[ApiKey]:
        return self._pages(Call("GET", f"{API}/workspaces/{path_id(workspace_id)}/keys",
                                rows(ApiKey.model_validate)))

    @operation
    def create(self, workspace_id: str = "ws_default", spec: KeyCreate | dict[str, Any] | None = None,
               **fields: Any) -> Flow[CreatedApiKey]:
        """`name=`, `scopes=`, and optionally `expires_in="30d"` or `expires_at=`, `allowed_cidrs=`."""
        if isinstance(fields.get("expires_at"), datetime):
            fields["expires_at"] = fields["expires_at"].isoformat()
        return self._request(Call("POST", f"{API}/workspaces/{path_id(workspace_id)}/keys",
                                  one(CreatedApiKey.model_validate), json=body_of(KeyCreate, spec, fields)))

    @operation
    def revoke(self, key_id: str, workspace_id: str = "ws_default") -> Flow[ApiKey]:
        return self._request(Call("DELETE", f"{API}/workspaces/{path_id(workspace_id)}/keys/{path_id(key_id)}",
                                  one(ApiKey.model_validate)))

    @operation
    def rotate(self, key_id: str, workspace_id: str = "ws_default", *, grace_seconds: int = 3600
               ) -> Flow[CreatedApiKey]:
        """A new key with the same settings; the old one keeps working `grace_seconds` more."""
        return self._request(Call("POST", f"{API}/workspaces/{path_id(workspace_id)}/keys/{path_id(key_id)}/rotate",
                                  one(CreatedApiKey.model_validate), json={"grace_seconds": grace_seconds}))


class OAuthClients(Resource[R]):
    """OAuth clients of a workspace and their secrets; a new secret is in the answer once."""

    @listing
    def list(self, workspace_id: str = "ws_default") -> Flow[OAuthClient]:
        return self._pages(Call("GET", f"{API}/workspaces/{path_id(workspace_id)}/oauth-clients",
                                rows(OAuthClient.model_validate)))

    @operation
    def create(self, workspace_id: str = "ws_default", spec: ClientCreate | dict[str, Any] | None = None,
               **fields: Any) -> Flow[CreatedOAuthClient]:
        """`name=`, `scopes=`, optionally `redirect_uris=`, `secret_expires_in=`; answers the first secret."""
        return self._request(Call("POST", f"{API}/workspaces/{path_id(workspace_id)}/oauth-clients",
                                  one(CreatedOAuthClient.model_validate), json=body_of(ClientCreate, spec, fields)))

    @operation
    def revoke(self, client_id: str, workspace_id: str = "ws_default") -> Flow[OAuthClient]:
        """Revoke the client, and so every token it holds."""
        return self._request(Call("DELETE", f"{API}/workspaces/{path_id(workspace_id)}/oauth-clients/"
                                  f"{path_id(client_id)}", one(OAuthClient.model_validate)))

    @operation
    def add_secret(self, client_id: str, workspace_id: str = "ws_default",
                   spec: SecretCreate | dict[str, Any] | None = None, **fields: Any) -> Flow[CreatedClientSecret]:
        return self._request(Call("POST", f"{API}/workspaces/{path_id(workspace_id)}/oauth-clients/"
                                  f"{path_id(client_id)}/secrets", one(CreatedClientSecret.model_validate),
                                  json=body_of(SecretCreate, spec, fields)))

    @operation
    def revoke_secret(self, client_id: str, secret_id: str, workspace_id: str = "ws_default"
                      ) -> Flow[ClientSecret]:
        return self._request(Call("DELETE", f"{API}/workspaces/{path_id(workspace_id)}/oauth-clients/"
                                  f"{path_id(client_id)}/secrets/{path_id(secret_id)}",
                                  one(ClientSecret.model_validate)))
