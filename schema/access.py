"""Access management over GraphQL: workspaces, API keys and OAuth clients (admin credentials only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from resolvers import access as workspaces
from resolvers import keys, oauth_clients
from resolvers.principal import ADMIN_SCOPE
from resolvers.validation import parse
from resolvers.views import access as views
from schema.context import Info
from schema.error_types import ConflictError, NotFoundError, ValidationError
from schema.inputs import to_plain
from schema.pagination import Connection, connection, page_request
from schema.permissions import needs


@strawberry.type(description="A unit of isolation: every object and credential belongs to one.")
class Workspace:
    id: strawberry.ID = strawberry.field(description="Opaque id (ws_...).")
    name: str = strawberry.field(description="Unique name.")
    created_at: datetime = strawberry.field(description="When it was created.")

    @classmethod
    def from_view(cls, view: views.WorkspaceView) -> Workspace:
        return cls(id=strawberry.ID(view.id), name=view.name, created_at=view.created_at)


@strawberry.type(description="An API key; the secret itself is shown only when created or rotated.")
class ApiKey:
    id: strawberry.ID = strawberry.field(description="Opaque id (key_...).")
    name: str = strawberry.field(description="What the key is for.")
    prefix: str = strawberry.field(description="The visible start of the key, to tell keys apart.")
    scopes: list[str] = strawberry.field(description="Granted scopes.")
    allowed_cidrs: list[str] = strawberry.field(description="Networks the key may be used from (empty: any).")
    expires_at: datetime | None = strawberry.field(description="When the key stops working.")
    revoked_at: datetime | None = strawberry.field(description="When the key was revoked.")
    last_used_at: datetime | None = strawberry.field(description="Last use, recorded within a minute or so.")
    created_at: datetime = strawberry.field(description="When it was created.")

    @classmethod
    def from_view(cls, view: views.ApiKeyView) -> ApiKey:
        return cls(id=strawberry.ID(view.id), name=view.name, prefix=view.prefix, scopes=list(view.scopes),
                   allowed_cidrs=list(view.allowed_cidrs), expires_at=view.expires_at, revoked_at=view.revoked_at,
                   last_used_at=view.last_used_at, created_at=view.created_at)


@strawberry.type(description="A secret of an OAuth client; its value is shown only when created.")
class OAuthClientSecret:
    id: strawberry.ID = strawberry.field(description="Opaque id (ocs_...).")
    prefix: str = strawberry.field(description="The visible start of the secret.")
    description: str = strawberry.field(description="What the secret is for.")
    expires_at: datetime | None = strawberry.field(description="When the secret stops working.")
    revoked_at: datetime | None = strawberry.field(description="When the secret was revoked.")

    @classmethod
    def from_view(cls, view: views.ClientSecretView) -> OAuthClientSecret:
        return cls(id=strawberry.ID(view.id), prefix=view.prefix, description=view.description,
                   expires_at=view.expires_at, revoked_at=view.revoked_at)


@strawberry.type(description="An application that obtains tokens at /oauth/token.")
class OAuthClient:
    client_id: strawberry.ID = strawberry.field(description="The client id (oc_...).")
    name: str = strawberry.field(description="What the client is.")
    scopes: list[str] = strawberry.field(description="The most a token of this client may hold.")
    redirect_uris: list[str] = strawberry.field(description="Where authorization codes may be sent.")
    revoked_at: datetime | None = strawberry.field(description="When the client was revoked.")
    secrets: list[OAuthClientSecret] = strawberry.field(description="Its secrets (values never shown again).")

    @classmethod
    def from_view(cls, view: views.OAuthClientView) -> OAuthClient:
        return cls(client_id=strawberry.ID(view.id), name=view.name, scopes=list(view.scopes),
                   redirect_uris=list(view.redirect_uris), revoked_at=view.revoked_at,
                   secrets=[OAuthClientSecret.from_view(s) for s in view.secrets])


@strawberry.input(description="A new API key.")
class CreateApiKeyInput:
    name: str = strawberry.field(description="What the key is for.")
    scopes: list[str] = strawberry.field(description="Scopes, e.g. read:datasets.")
    expires_in: str | None = strawberry.field(default=strawberry.UNSET, description="Lifetime, e.g. 30d.")
    expires_at: str | None = strawberry.field(default=strawberry.UNSET, description="Expiry (RFC 3339).")
    allowed_cidrs: list[str] | None = strawberry.field(default=strawberry.UNSET, description="Allowed networks.")


@strawberry.input(description="A new OAuth client.")
class CreateOAuthClientInput:
    name: str = strawberry.field(description="What the client is.")
    scopes: list[str] = strawberry.field(description="The most its tokens may hold.")
    redirect_uris: list[str] | None = strawberry.field(default=strawberry.UNSET, description="For code flows.")
    secret_expires_in: str | None = strawberry.field(default=strawberry.UNSET,
                                                     description="Lifetime of the first secret (default 90d).")


@strawberry.input(description="Another secret for an OAuth client.")
class AddOAuthClientSecretInput:
    description: str | None = strawberry.field(default=strawberry.UNSET, description="What the secret is for.")
    expires_in: str | None = strawberry.field(default=strawberry.UNSET, description="Lifetime, e.g. 90d.")
    expires_at: str | None = strawberry.field(default=strawberry.UNSET, description="Expiry (RFC 3339).")


@strawberry.type(description="The secret was added; `secret` is shown this once.")
class AddOAuthClientSecretSuccess:
    client_secret: OAuthClientSecret = strawberry.field(description="The stored secret.")
    secret: str = strawberry.field(description="The secret value: store it now, it is never shown again.")


@strawberry.type(description="The secret was revoked.")
class RevokeOAuthClientSecretSuccess:
    client_secret: OAuthClientSecret = strawberry.field(description="The revoked secret.")


@strawberry.type(description="The key was created or rotated; `key` is shown this once.")
class ApiKeySecretSuccess:
    api_key: ApiKey = strawberry.field(description="The stored key.")
    key: str = strawberry.field(description="The secret key: store it now, it is never shown again.")


@strawberry.type(description="The key was revoked.")
class RevokeApiKeySuccess:
    api_key: ApiKey = strawberry.field(description="The revoked key.")


@strawberry.type(description="The workspace was created.")
class CreateWorkspaceSuccess:
    workspace: Workspace = strawberry.field(description="The new workspace.")


@strawberry.type(description="The client was registered; `secret` is shown this once.")
class CreateOAuthClientSuccess:
    client: OAuthClient = strawberry.field(description="The new client.")
    secret: str = strawberry.field(description="Its first secret: store it now, it is never shown again.")
    client_secret: str = strawberry.field(description="The same value under the name OAuth clients expect "
                                                      "(client_secret): store it now, it is never shown again.")


@strawberry.type(description="The client was revoked: its tokens stop working.")
class RevokeOAuthClientSuccess:
    client: OAuthClient = strawberry.field(description="The revoked client.")


KeyResult = Annotated[ApiKeySecretSuccess | NotFoundError | ValidationError, strawberry.union("ApiKeySecretResult")]
RevokeKeyResult = Annotated[RevokeApiKeySuccess | NotFoundError, strawberry.union("RevokeApiKeyResult")]
WorkspaceResult = Annotated[CreateWorkspaceSuccess | ValidationError | ConflictError,
                            strawberry.union("CreateWorkspaceResult")]
ClientResult = Annotated[CreateOAuthClientSuccess | NotFoundError | ValidationError,
                         strawberry.union("CreateOAuthClientResult")]
RevokeClientResult = Annotated[RevokeOAuthClientSuccess | NotFoundError, strawberry.union("RevokeOAuthClientResult")]
AddSecretResult = Annotated[AddOAuthClientSecretSuccess | NotFoundError | ValidationError,
                            strawberry.union("AddOAuthClientSecretResult")]
RevokeSecretResult = Annotated[RevokeOAuthClientSecretSuccess | NotFoundError,
                               strawberry.union("RevokeOAuthClientSecretResult")]


def _key_success(created: views.CreatedKey) -> ApiKeySecretSuccess:
    return ApiKeySecretSuccess(api_key=ApiKey.from_view(created.key), key=created.secret)


@strawberry.type
class AccessQuery:
    @strawberry.field(extensions=needs(ADMIN_SCOPE), description="Workspaces you administer, oldest first.")
    async def workspaces(self, info: Info, first: int = 20, after: str | None = None) -> Connection[Workspace]:
        page = await workspaces.list_workspaces(info.context.principal, page_request(first, after))
        return connection(page, Workspace.from_view)

    @strawberry.field(extensions=needs(ADMIN_SCOPE), description="API keys of a workspace, newest first.")
    async def api_keys(self, info: Info, workspace_id: strawberry.ID, first: int = 20,
                       after: str | None = None) -> Connection[ApiKey]:
        page = await keys.list_keys(info.context.principal, str(workspace_id), page_request(first, after))
        return connection(page, ApiKey.from_view)

    @strawberry.field(extensions=needs(ADMIN_SCOPE), description="OAuth clients of a workspace, newest first.")
    async def oauth_clients(self, info: Info, workspace_id: strawberry.ID, first: int = 20,
                            after: str | None = None) -> Connection[OAuthClient]:
        page = await oauth_clients.list_clients(info.context.principal, str(workspace_id),
                                                page_request(first, after))
        return connection(page, OAuthClient.from_view)


@strawberry.type
class AccessMutation:
    @strawberry.mutation(extensions=needs(ADMIN_SCOPE), description="Create a workspace (default-workspace admins).")
    async def create_workspace(self, info: Info, name: str) -> WorkspaceResult:
        spec = parse(workspaces.WorkspaceCreate, {"name": name}, "workspace")
        view = await workspaces.create_workspace(info.context.principal, spec)
        return CreateWorkspaceSuccess(workspace=Workspace.from_view(view))

    @strawberry.mutation(extensions=needs(ADMIN_SCOPE), description="Create an API key; the key is shown once.")
    async def create_api_key(self, info: Info, workspace_id: strawberry.ID, input: CreateApiKeyInput) -> KeyResult:
        spec = parse(keys.KeyCreate, to_plain(input), "API key")
        return _key_success(await keys.create_key(info.context.principal, str(workspace_id), spec))

    @strawberry.mutation(extensions=needs(ADMIN_SCOPE), description="Revoke an API key now.")
    async def revoke_api_key(self, info: Info, workspace_id: strawberry.ID, id: strawberry.ID) -> RevokeKeyResult:
        view = await keys.revoke_key(info.context.principal, str(workspace_id), str(id))
        return RevokeApiKeySuccess(api_key=ApiKey.from_view(view))

    @strawberry.mutation(extensions=needs(ADMIN_SCOPE), description="Replace a key; the old works graceSeconds more.")
    async def rotate_api_key(self, info: Info, workspace_id: strawberry.ID, id: strawberry.ID,
                             grace_seconds: int = 3600) -> KeyResult:
        created = await keys.rotate_key(info.context.principal, str(workspace_id), str(id), grace_seconds)
        return _key_success(created)

    @strawberry.mutation(name="createOAuthClient", extensions=needs(ADMIN_SCOPE),
                         description="Register an OAuth client (secret shown once).")
    async def create_oauth_client(self, info: Info, workspace_id: strawberry.ID,
                                  input: CreateOAuthClientInput) -> ClientResult:
        spec = parse(oauth_clients.ClientCreate, to_plain(input), "OAuth client")
        created = await oauth_clients.register_client(info.context.principal, str(workspace_id), spec)
        secret = created.secret.secret
        return CreateOAuthClientSuccess(client=OAuthClient.from_view(created.client), secret=secret,
                                        client_secret=secret)

    @strawberry.mutation(name="revokeOAuthClient", extensions=needs(ADMIN_SCOPE),
                         description="Revoke an OAuth client and its tokens.")
    async def revoke_oauth_client(self, info: Info, workspace_id: strawberry.ID,
                                  client_id: strawberry.ID) -> RevokeClientResult:
        view = await oauth_clients.revoke_client(info.context.principal, str(workspace_id), str(client_id))
        return RevokeOAuthClientSuccess(client=OAuthClient.from_view(view))

    @strawberry.mutation(name="addOAuthClientSecret", extensions=needs(ADMIN_SCOPE),
                         description="Add a secret to an OAuth client (shown once).")
    async def add_oauth_client_secret(self, info: Info, workspace_id: strawberry.ID, client_id: strawberry.ID,
                                      input: AddOAuthClientSecretInput | None = None) -> AddSecretResult:
        spec = parse(oauth_clients.SecretCreate, to_plain(input) if input else {}, "client secret")
        created = await oauth_clients.add_secret(info.context.principal, str(workspace_id), str(client_id), spec)
        return AddOAuthClientSecretSuccess(client_secret=OAuthClientSecret.from_view(created.view),
                                           secret=created.secret)

    @strawberry.mutation(name="revokeOAuthClientSecret", extensions=needs(ADMIN_SCOPE),
                         description="Revoke one secret of an OAuth client.")
    async def revoke_oauth_client_secret(self, info: Info, workspace_id: strawberry.ID, client_id: strawberry.ID,
                                         id: strawberry.ID) -> RevokeSecretResult:
        view = await oauth_clients.revoke_secret(info.context.principal, str(workspace_id), str(client_id),
                                                 str(id))
        return RevokeOAuthClientSecretSuccess(client_secret=OAuthClientSecret.from_view(view))
