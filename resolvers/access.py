"""Workspaces and their credentials, managed by `admin` credentials.

An admin manages its own workspace. Admins of the default workspace operate the instance:
they also create workspaces and manage the credentials of any workspace. For everyone else a
workspace other than their own does not exist (404, as for any other object).
"""

from __future__ import annotations

from typing import Any

import pydantic
from tortoise.exceptions import IntegrityError

from resolvers import keys, oauth_clients
from resolvers.errors import Conflict, Forbidden, NotFound
from resolvers.ownership import require_id
from resolvers.pagination import Page, PageRequest, paginate
from resolvers.principal import ADMIN_SCOPE, DEFAULT_WORKSPACE_ID, Principal
from resolvers.validation import StrictInput, parse
from server.models.access import ApiKey, OAuthClient, OAuthClientSecret
from server.models.base import new_id
from server.models.core import Workspace


class WorkspaceCreate(StrictInput):
    name: str = pydantic.Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\- ]*$")


def _operator(principal: Principal) -> bool:
    return principal.workspace_id == DEFAULT_WORKSPACE_ID and principal.has_scope(ADMIN_SCOPE)


async def _managed(principal: Principal, workspace_id: str) -> Workspace:
    principal.require(ADMIN_SCOPE)
    row = None
    require_id("workspace", workspace_id)
    if _operator(principal) or workspace_id == principal.workspace_id:
        row = await Workspace.get_or_none(id=workspace_id)
    if row is None:
        raise NotFound("workspace", workspace_id)
    return row


async def list_workspaces(principal: Principal, page: PageRequest) -> Page[Workspace]:
    """A page of the workspaces the caller administers (all for operators), oldest first; raises Forbidden."""
    principal.require(ADMIN_SCOPE)
    query = Workspace.all() if _operator(principal) else Workspace.filter(id=principal.workspace_id)
    return await paginate(query, page, newest_first=False)


async def get_workspace(principal: Principal, workspace_id: str) -> Workspace:
    """One administered workspace; raises Forbidden, NotFound."""
    return await _managed(principal, workspace_id)


async def create_workspace(principal: Principal, data: Any) -> Workspace:
    """A new workspace (operators only); raises Forbidden, ValidationError, Conflict."""
    principal.require(ADMIN_SCOPE)
    if not _operator(principal):
        raise Forbidden("Only admins of the default workspace create workspaces", {"required_scope": ADMIN_SCOPE})
    spec = parse(WorkspaceCreate, data, "workspace")
    try:
        return await Workspace.create(id=new_id("ws"), name=spec.name)
    except IntegrityError:
        raise Conflict(f"A workspace named '{spec.name}' already exists", {"field": "name"}) from None


async def create_key(principal: Principal, workspace_id: str, data: Any) -> keys.CreatedKey:
    """A new API key of the workspace; raises Forbidden, NotFound, ValidationError."""
    await _managed(principal, workspace_id)
    return await keys.store_key(workspace_id, data, principal.subject)


async def list_keys(principal: Principal, workspace_id: str, page: PageRequest) -> Page[ApiKey]:
    """A page of the workspace's API keys; raises Forbidden, NotFound."""
    await _managed(principal, workspace_id)
    return await keys.list_keys(workspace_id, page)


async def revoke_key(principal: Principal, workspace_id: str, key_id: str) -> ApiKey:
    """Revoke an API key now; raises Forbidden, NotFound."""
    await _managed(principal, workspace_id)
    return await keys.revoke_key(workspace_id, key_id)


async def rotate_key(principal: Principal, workspace_id: str, key_id: str, grace_seconds: int) -> keys.CreatedKey:
    """Replace an API key; the old one works `grace_seconds` more. Raises Forbidden, NotFound, ValidationError."""
    await _managed(principal, workspace_id)
    return await keys.rotate_key(workspace_id, key_id, grace_seconds, principal.subject)


async def register_client(principal: Principal, workspace_id: str, data: Any) -> oauth_clients.CreatedClient:
    """A new OAuth client with its first secret; raises Forbidden, NotFound, ValidationError."""
    await _managed(principal, workspace_id)
    return await oauth_clients.register_client(workspace_id, data)


async def list_clients(principal: Principal, workspace_id: str, page: PageRequest) -> Page[OAuthClient]:
    """A page of the workspace's OAuth clients with their secrets; raises Forbidden, NotFound."""
    await _managed(principal, workspace_id)
    return await oauth_clients.list_clients(workspace_id, page)


async def revoke_client(principal: Principal, workspace_id: str, client_id: str) -> OAuthClient:
    """Revoke an OAuth client and so its tokens; raises Forbidden, NotFound."""
    await _managed(principal, workspace_id)
    return await oauth_clients.revoke_client(workspace_id, client_id)


async def add_client_secret(principal: Principal, workspace_id: str, client_id: str, data: Any
                            ) -> oauth_clients.CreatedSecret:
    """Another secret for a client; raises Forbidden, NotFound, ValidationError."""
    await _managed(principal, workspace_id)
    return await oauth_clients.add_secret(workspace_id, client_id, data)


async def revoke_client_secret(principal: Principal, workspace_id: str, client_id: str, secret_id: str
                               ) -> OAuthClientSecret:
    """Revoke one client secret; raises Forbidden, NotFound."""
    await _managed(principal, workspace_id)
    return await oauth_clients.revoke_secret(workspace_id, client_id, secret_id)
