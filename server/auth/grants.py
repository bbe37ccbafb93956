"""OAuth 2.0 grants of the token endpoint: client_credentials, authorization_code (PKCE S256), refresh_token.

The client authenticates with one of its secrets; the grant is checked against what was approved
(resolvers.oauth.authorize stored the code) and answered with tokens minted by the TokenService.
Refresh tokens rotate on every use; presenting one that was already used revokes its whole
family (every token descending from the same authorization), as RFC 6819 advises.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from resolvers.credentials import CLIENT_SECRET, REFRESH_TOKEN, new_secret, secret_hash, well_formed
from resolvers.errors import DoccError
from resolvers.scopes import grantable, split_scope
from server.auth.jwt_tokens import TokenService
from server.models.access import AuthorizationCode, OAuthClient, OAuthClientSecret, RefreshToken
from server.models.base import new_id

_PKCE = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")


class OAuthError(DoccError):
    """A token-endpoint failure in the terms of RFC 6749 section 5.2: `error` is the RFC's code."""

    code = "OAUTH_ERROR"

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description, {"error": error})
        self.error = error


async def authenticate_client(client_id: str | None, secret: str | None) -> OAuthClient:
    """The client whose id and an active secret were presented; raises OAuthError(invalid_client)."""
    refused = OAuthError("invalid_client", "Client authentication failed")
    if not client_id or not secret or not well_formed(secret, CLIENT_SECRET):
        raise refused
    row = await OAuthClientSecret.get_or_none(secret_hash=secret_hash(secret)).select_related("client")
    now = datetime.now(UTC)
    if row is None or row.client_id != client_id or row.revoked_at is not None or (
            row.expires_at is not None and row.expires_at <= now):
        raise refused
    if row.client.revoked_at is not None:
        raise refused
    return row.client


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _requested(scope: str | None, client: OAuthClient) -> list[str]:
    wanted = split_scope(scope) or list(client.scopes)
    if not grantable(wanted, client.scopes):
        raise OAuthError("invalid_scope", "The requested scope exceeds what the client may hold")
    return wanted


def _token_body(tokens: TokenService, subject: str, client: OAuthClient, scopes: list[str],
                refresh: str | None = None, family_id: str | None = None) -> dict[str, Any]:
    access, ttl = tokens.issue(subject, client.workspace_id, scopes, client.id, family_id)
    body: dict[str, Any] = {"access_token": access, "token_type": "Bearer", "expires_in": ttl,
                            "scope": " ".join(scopes)}
    if refresh is not None:
        body["refresh_token"] = refresh
    return body


async def client_credentials(tokens: TokenService, client: OAuthClient, scope: str | None) -> dict[str, Any]:
    """An access token for the client itself (no refresh token); raises OAuthError."""
    return _token_body(tokens, f"client:{client.id}", client, _requested(scope, client))


async def _new_refresh(tokens: TokenService, family_id: str, client: OAuthClient, subject: str,
                       scopes: list[str]) -> str:
    secret = new_secret(REFRESH_TOKEN)
    await RefreshToken.create(id=new_id("rt"), token_hash=secret_hash(secret), family_id=family_id,
                              client_id=client.id, workspace_id=client.workspace_id, subject=subject,
                              scopes=scopes, expires_at=datetime.now(UTC) + timedelta(
                                  seconds=tokens.settings.refresh_token_ttl_seconds))
    return secret


async def _revoke_family(family_id: str) -> None:
    await RefreshToken.filter(family_id=family_id, revoked_at=None).update(revoked_at=datetime.now(UTC))


async def exchange_code(tokens: TokenService, client: OAuthClient, code: str | None, redirect_uri: str | None,
                        verifier: str | None) -> dict[str, Any]:
    """Access and refresh tokens for an authorization code and its PKCE verifier; raises OAuthError."""
    if not code or not verifier or not _PKCE.match(verifier):
        raise OAuthError("invalid_request", "code and a valid code_verifier are required")
    code_hash = secret_hash(code)
    row = await AuthorizationCode.get_or_none(code_hash=code_hash)
    family_id = f"fam_{code_hash[:20]}"
    now = datetime.now(UTC)
    if row is None or row.client_id != client.id:
        raise OAuthError("invalid_grant", "The authorization code is not valid")
    if row.used_at is not None:
        await _revoke_family(family_id)  # a replayed code revokes what the first use obtained
        raise OAuthError("invalid_grant", "The authorization code was already used")
    if row.expires_at <= now or row.redirect_uri != redirect_uri or not secrets.compare_digest(
            _s256(verifier), row.code_challenge):
        raise OAuthError("invalid_grant", "The authorization code, redirect URI or verifier does not match")
    async with in_transaction():
        claimed = await AuthorizationCode.filter(code_hash=code_hash, used_at=None).update(used_at=now)
        if claimed != 1:
            raise OAuthError("invalid_grant", "The authorization code was already used")
        refresh = await _new_refresh(tokens, family_id, client, row.subject, row.scopes)
    return _token_body(tokens, row.subject, client, row.scopes, refresh, family_id)


async def refresh(tokens: TokenService, client: OAuthClient, token: str | None, scope: str | None
                  ) -> dict[str, Any]:
    """Rotate a refresh token: new access and refresh tokens; reuse revokes the family. Raises OAuthError."""
    invalid = OAuthError("invalid_grant", "The refresh token is not valid")
    if not token or not well_formed(token, REFRESH_TOKEN):
        raise invalid
    row = await RefreshToken.get_or_none(token_hash=secret_hash(token))
    now = datetime.now(UTC)
    if row is None or row.client_id != client.id or row.revoked_at is not None or row.expires_at <= now:
        raise invalid
    if row.used_at is not None:
        await _revoke_family(row.family_id)
        raise OAuthError("invalid_grant", "The refresh token was already used; its family is revoked")
    scopes = split_scope(scope) or list(row.scopes)
    if not grantable(scopes, row.scopes):
        raise OAuthError("invalid_scope", "A refresh cannot widen the granted scope")
    async with in_transaction():
        claimed = await RefreshToken.filter(id=row.id, used_at=None, revoked_at=None).update(used_at=now)
        if claimed == 1:
            new = await _new_refresh(tokens, row.family_id, client, row.subject, scopes)
    if claimed != 1:
        await _revoke_family(row.family_id)
        raise OAuthError("invalid_grant", "The refresh token was already used; its family is revoked")
    return _token_body(tokens, row.subject, client, scopes, new, row.family_id)
