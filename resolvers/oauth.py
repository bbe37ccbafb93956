"""Approving an OAuth client (authorization code with PKCE S256): the one OAuth use case of a signed-in admin.

The token endpoint that later exchanges the code is authentication machinery (server.auth.grants).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pydantic

from resolvers.credentials import secret_hash
from resolvers.errors import NotFound, ValidationError
from resolvers.ownership import require_id
from resolvers.principal import ADMIN_SCOPE, Principal
from resolvers.scopes import grantable, split_scope
from resolvers.validation import StrictInput
from resolvers.views.access import Authorization
from server.models.access import AuthorizationCode, OAuthClient

CODE_LIFETIME = timedelta(seconds=60)


class AuthorizeRequest(StrictInput):
    client_id: str = pydantic.Field(min_length=1, max_length=40)
    redirect_uri: str = pydantic.Field(min_length=1, max_length=2000)
    scope: str = pydantic.Field(default="", max_length=1000)
    code_challenge: str = pydantic.Field(min_length=43, max_length=128)
    code_challenge_method: str = "S256"
    state: str | None = pydantic.Field(default=None, max_length=500)


async def authorize(principal: Principal, spec: AuthorizeRequest) -> Authorization:
    """Approve a client for a redirect and scopes: the code and the redirect URL carrying it.

    Raises Forbidden, NotFound, ValidationError.
    """
    principal.require(ADMIN_SCOPE)
    if spec.code_challenge_method != "S256":
        raise ValidationError("Only PKCE S256 is supported", field="code_challenge_method", reason="Expected S256")
    client = await OAuthClient.get_or_none(id=require_id("oauth client", spec.client_id),
                                           workspace_id=principal.workspace_id, revoked_at=None)
    if client is None:
        raise NotFound("oauth client", spec.client_id)
    if spec.redirect_uri not in client.redirect_uris:
        raise ValidationError("The redirect URI is not registered for this client", field="redirect_uri",
                              reason="Unregistered redirect URI")
    scopes = split_scope(spec.scope) or list(client.scopes)
    if not grantable(scopes, client.scopes) or not grantable(scopes, principal.scopes):
        raise ValidationError("The scope exceeds what the client may hold", field="scope", reason="invalid_scope")
    code = secrets.token_urlsafe(32)
    await AuthorizationCode.create(code_hash=secret_hash(code), client_id=client.id,
                                   workspace_id=client.workspace_id, subject=principal.subject, scopes=scopes,
                                   redirect_uri=spec.redirect_uri, code_challenge=spec.code_challenge,
                                   expires_at=datetime.now(UTC) + CODE_LIFETIME)
    query = {"code": code, **({"state": spec.state} if spec.state is not None else {})}
    separator = "&" if "?" in spec.redirect_uri else "?"
    return Authorization(code=code, redirect_to=f"{spec.redirect_uri}{separator}{urlencode(query)}",
                         expires_in=int(CODE_LIFETIME.total_seconds()))
