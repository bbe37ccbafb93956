"""Workspaces, managed by `admin` credentials; and who may manage a workspace's credentials.

An admin manages its own workspace. Admins of the default workspace operate the instance:
they also create workspaces and manage the credentials of any workspace. For everyone else a
workspace other than their own does not exist (404, as for any other object).
"""

from __future__ import annotations

import pydantic
from tortoise.exceptions import IntegrityError

from resolvers.errors import Conflict, Forbidden, NotFound
from resolvers.ownership import require_id
from resolvers.pagination import Page, PageRequest, paginate
from resolvers.principal import ADMIN_SCOPE, DEFAULT_WORKSPACE_ID, Principal
from resolvers.validation import StrictInput
from resolvers.views.access import WorkspaceView
from server.models.base import new_id
from server.models.core import Workspace


class WorkspaceCreate(StrictInput):
    name: str = pydantic.Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\- ]*$")


def _operator(principal: Principal) -> bool:
    return principal.workspace_id == DEFAULT_WORKSPACE_ID and principal.has_scope(ADMIN_SCOPE)


async def managed_workspace(principal: Principal, workspace_id: str) -> Workspace:
    """The workspace whose credentials the caller may manage; raises Forbidden, NotFound."""
    principal.require(ADMIN_SCOPE)
    row = None
    require_id("workspace", workspace_id)
    if _operator(principal) or workspace_id == principal.workspace_id:
        row = await Workspace.get_or_none(id=workspace_id)
    if row is None:
        raise NotFound("workspace", workspace_id)
    return row


async def list_workspaces(principal: Principal, page: PageRequest) -> Page[WorkspaceView]:
    """A page of the workspaces the caller administers (all for operators), oldest first; raises Forbidden."""
    principal.require(ADMIN_SCOPE)
    query = Workspace.all() if _operator(principal) else Workspace.filter(id=principal.workspace_id)
    return (await paginate(query, page, newest_first=False)).map(WorkspaceView.from_row)


async def get_workspace(principal: Principal, workspace_id: str) -> WorkspaceView:
    """One administered workspace; raises Forbidden, NotFound."""
    return WorkspaceView.from_row(await managed_workspace(principal, workspace_id))


async def create_workspace(principal: Principal, spec: WorkspaceCreate) -> WorkspaceView:
    """A new workspace (operators only); raises Forbidden, Conflict."""
    principal.require(ADMIN_SCOPE)
    if not _operator(principal):
        raise Forbidden("Only admins of the default workspace create workspaces", {"required_scope": ADMIN_SCOPE})
    try:
        return WorkspaceView.from_row(await Workspace.create(id=new_id("ws"), name=spec.name))
    except IntegrityError:
        raise Conflict(f"A workspace named '{spec.name}' already exists", {"field": "name"}) from None
