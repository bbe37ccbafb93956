"""REST translation of access management: workspaces, API keys, OAuth clients and their secrets."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from resolvers import access as workspaces
from resolvers import keys, oauth_clients
from resolvers.errors import ValidationError
from resolvers.keys import KeyCreate
from resolvers.oauth_clients import ClientCreate, SecretCreate
from resolvers.principal import ADMIN_SCOPE
from resolvers.validation import parse
from resolvers.views.access import (
    ApiKeyView,
    ClientSecretView,
    CreatedKey,
    CreatedSecret,
    OAuthClientView,
    WorkspaceView,
)
from server.edge.bodies import read_json
from server.edge.context import principal_of
from server.edge.responses import json_response
from server.edge.routes import Route
from server.rest.common import page_request, page_response

NO_STORE = {"Cache-Control": "no-store"}


def workspace_json(row: WorkspaceView) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "created_at": row.created_at, "updated_at": row.updated_at}


def key_json(row: ApiKeyView) -> dict[str, Any]:
    """An API key as listed: the visible prefix, never the hash."""
    return {"id": row.id, "workspace_id": row.workspace_id, "name": row.name, "prefix": row.prefix,
            "scopes": row.scopes, "allowed_cidrs": row.allowed_cidrs, "expires_at": row.expires_at,
            "revoked_at": row.revoked_at, "last_used_at": row.last_used_at, "rotated_from": row.rotated_from,
            "created_at": row.created_at}


def secret_json(row: ClientSecretView) -> dict[str, Any]:
    return {"id": row.id, "prefix": row.prefix, "description": row.description, "expires_at": row.expires_at,
            "revoked_at": row.revoked_at, "created_at": row.created_at}


def client_json(row: OAuthClientView) -> dict[str, Any]:
    return {"client_id": row.id, "workspace_id": row.workspace_id, "name": row.name, "scopes": row.scopes,
            "redirect_uris": row.redirect_uris, "revoked_at": row.revoked_at, "created_at": row.created_at,
            "secrets": [secret_json(s) for s in row.secrets]}


def _created_key(created: CreatedKey) -> web.Response:
    return json_response({**key_json(created.key), "key": created.secret}, status=201, headers=NO_STORE)


def _created_secret(created: CreatedSecret) -> dict[str, Any]:
    return {**secret_json(created.view), "secret": created.secret}


def _ws(request: web.Request) -> str:
    return request.match_info["workspace_id"]


async def list_workspaces(request: web.Request) -> web.Response:
    page = await workspaces.list_workspaces(await principal_of(request), page_request(request))
    return page_response(request, page, workspace_json)


async def create_workspace(request: web.Request) -> web.Response:
    spec = parse(workspaces.WorkspaceCreate, await read_json(request), "workspace")
    view = await workspaces.create_workspace(await principal_of(request), spec)
    return json_response(workspace_json(view), status=201)


async def get_workspace(request: web.Request) -> web.Response:
    return json_response(workspace_json(await workspaces.get_workspace(await principal_of(request), _ws(request))))


async def list_keys(request: web.Request) -> web.Response:
    page = await keys.list_keys(await principal_of(request), _ws(request), page_request(request))
    return page_response(request, page, key_json)


async def create_key(request: web.Request) -> web.Response:
    spec = parse(KeyCreate, await read_json(request), "API key")
    return _created_key(await keys.create_key(await principal_of(request), _ws(request), spec))


async def revoke_key(request: web.Request) -> web.Response:
    view = await keys.revoke_key(await principal_of(request), _ws(request), request.match_info["key_id"])
    return json_response(key_json(view))


async def rotate_key(request: web.Request) -> web.Response:
    body = await read_json(request) if request.can_read_body else {}
    grace = body.get("grace_seconds", 3600)
    if not isinstance(grace, int) or isinstance(grace, bool) or set(body) - {"grace_seconds"}:
        raise ValidationError("Invalid rotation", field="grace_seconds", reason="Expected an integer")
    created = await keys.rotate_key(await principal_of(request), _ws(request), request.match_info["key_id"],
                                      grace)
    return _created_key(created)


async def list_clients(request: web.Request) -> web.Response:
    page = await oauth_clients.list_clients(await principal_of(request), _ws(request), page_request(request))
    return page_response(request, page, client_json)


async def create_client(request: web.Request) -> web.Response:
    spec = parse(ClientCreate, await read_json(request), "OAuth client")
    created = await oauth_clients.register_client(await principal_of(request), _ws(request), spec)
    # The first secret, shown this once: as `client_secret` (what OAuth clients expect) and, as before, in
    # `secrets[0].secret`.
    shown = _created_secret(created.secret)
    body = {**client_json(created.client), "secrets": [shown], "client_secret": created.secret.secret}
    return json_response(body, status=201, headers=NO_STORE)


async def revoke_client(request: web.Request) -> web.Response:
    view = await oauth_clients.revoke_client(await principal_of(request), _ws(request),
                                             request.match_info["client_id"])
    return json_response(client_json(view))


async def add_secret(request: web.Request) -> web.Response:
    spec = parse(SecretCreate, await read_json(request), "client secret")
    created = await oauth_clients.add_secret(await principal_of(request), _ws(request),
                                             request.match_info["client_id"], spec)
    return json_response({**_created_secret(created), "client_secret": created.secret}, status=201,
                         headers=NO_STORE)


async def revoke_secret(request: web.Request) -> web.Response:
    view = await oauth_clients.revoke_secret(await principal_of(request), _ws(request),
                                             request.match_info["client_id"], request.match_info["secret_id"])
    return json_response(secret_json(view))


def _schema(model: Any) -> dict[str, Any]:
    return model.model_json_schema(by_alias=True)


A, WS, CLIENT = ADMIN_SCOPE, "/workspaces/{workspace_id}", "/workspaces/{workspace_id}/oauth-clients/{client_id}"
ROUTES = [
    Route("GET", "/workspaces", list_workspaces, A, "List the workspaces you administer", "access", paged=True),
    Route("POST", "/workspaces", create_workspace, A, "Create a workspace (default-workspace admins)", "access",
          status=201, body={"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}),
    Route("GET", WS, get_workspace, A, "Get a workspace", "access"),
    Route("GET", f"{WS}/keys", list_keys, A, "List API keys", "access", paged=True),
    Route("POST", f"{WS}/keys", create_key, A, "Create an API key (the key is shown once)", "access", status=201,
          body=_schema(KeyCreate)),
    Route("DELETE", f"{WS}/keys/{{key_id}}", revoke_key, A, "Revoke an API key", "access"),
    Route("POST", f"{WS}/keys/{{key_id}}/rotate", rotate_key, A, "Replace an API key; the old one works "
          "grace_seconds more", "access", status=201, body={"type": "object", "properties": {
              "grace_seconds": {"type": "integer"}}}),
    Route("GET", f"{WS}/oauth-clients", list_clients, A, "List OAuth clients", "access", paged=True),
    Route("POST", f"{WS}/oauth-clients", create_client, A, "Register an OAuth client (first secret shown once)",
          "access", status=201, body=_schema(ClientCreate)),
    Route("DELETE", CLIENT, revoke_client, A, "Revoke an OAuth client and its tokens", "access"),
    Route("POST", f"{CLIENT}/secrets", add_secret, A, "Add a client secret (shown once)", "access", status=201,
          body=_schema(SecretCreate)),
    Route("DELETE", f"{CLIENT}/secrets/{{secret_id}}", revoke_secret, A, "Revoke a client secret", "access"),
]
