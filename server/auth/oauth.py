"""OAuth 2.0 endpoints: /oauth/token, /oauth/refresh (RFC 6749) and /oauth/authorize (for PKCE codes).

Token responses and errors follow RFC 6749 section 5 (`{"error", "error_description"}`, never
the API envelope) and carry `Cache-Control: no-store`.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import parse_qsl, unquote

from aiohttp import web

from resolvers import oauth
from resolvers.principal import ADMIN_SCOPE
from resolvers.validation import parse
from server.auth import grants
from server.auth.authenticate import AUTH
from server.auth.grants import OAuthError, authenticate_client
from server.edge.bodies import UnreadableBody, read_body, read_json
from server.edge.context import principal_of
from server.edge.ratelimit import AUTH as AUTH_BUCKET
from server.edge.ratelimit import RATE_LIMITS
from server.edge.responses import json_response
from server.edge.routes import Route

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
GRANTS = ("client_credentials", "authorization_code", "refresh_token")


async def _form(request: web.Request) -> dict[str, str]:
    if request.content_type == "application/x-www-form-urlencoded":
        # Parsed here rather than by request.post(), which raised (a 500) on bytes that are not UTF-8
        # and on an unknown or non-ASCII-compatible `charset` parameter.
        if (request.charset or "utf-8").lower() not in ("utf-8", "utf8"):
            raise OAuthError("invalid_request", "Send the parameters in UTF-8")
        try:
            text = (await read_body(request)).decode("utf-8")
            return dict(parse_qsl(text, keep_blank_values=True, errors="strict"))
        except (UnicodeDecodeError, ValueError):
            raise OAuthError("invalid_request", "The parameters are not UTF-8 form encoding") from None
        except UnreadableBody as exc:
            raise OAuthError("invalid_request", exc.message) from None
    if request.content_type == "application/json":
        return {key: value for key, value in (await read_json(request)).items() if isinstance(value, str)}
    raise OAuthError("invalid_request", "Send the parameters as application/x-www-form-urlencoded")


def _client_auth(request: web.Request, form: dict[str, str]) -> tuple[str | None, str | None, bool]:
    """The client id and secret from HTTP Basic or the body, and whether Basic was used."""
    header = request.headers.get("Authorization", "")
    if header[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthError("invalid_client", "Malformed Basic credentials") from None
        client_id, _, secret = decoded.partition(":")
        return unquote(client_id), unquote(secret), True
    return form.get("client_id"), form.get("client_secret"), False


def oauth_error(exc: OAuthError, basic: bool) -> web.Response:
    """An RFC 6749 section 5.2 error response: 401 with a challenge when the client failed to authenticate."""
    headers = dict(NO_STORE)
    status = 401 if exc.error == "invalid_client" else 400
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="docc"' if basic else 'Bearer realm="docc"'
    return json_response({"error": exc.error, "error_description": exc.message}, status=status,
                         headers=headers)


async def _grant(request: web.Request, form: dict[str, str], client_id: str | None, secret: str | None
                 ) -> dict[str, Any]:
    grant = form.get("grant_type")
    if not grant:
        raise OAuthError("invalid_request", "grant_type is required")
    if grant not in GRANTS:
        raise OAuthError("unsupported_grant_type", f"Unsupported grant type '{grant}'")
    client = await authenticate_client(client_id, secret)
    tokens = request.app[AUTH].tokens
    assert tokens is not None
    if grant == "client_credentials":
        return await grants.client_credentials(tokens, client, form.get("scope"))
    if grant == "authorization_code":
        return await grants.exchange_code(tokens, client, form.get("code"), form.get("redirect_uri"),
                                         form.get("code_verifier"))
    return await grants.refresh(tokens, client, form.get("refresh_token"), form.get("scope"))


async def _token_endpoint(request: web.Request, forced_grant: str | None) -> web.Response:
    basic = False
    try:
        form = await _form(request)
        if forced_grant is not None:
            form.setdefault("grant_type", forced_grant)
            if form["grant_type"] != forced_grant:
                raise OAuthError("unsupported_grant_type", f"This endpoint only accepts {forced_grant}")
        client_id, secret, basic = _client_auth(request, form)
        await request.app[RATE_LIMITS].charge(request, AUTH_BUCKET, f"{client_id or '-'}@{request.remote}")
        body = await _grant(request, form, client_id, secret)
    except OAuthError as exc:
        return oauth_error(exc, basic)
    return json_response(body, headers=NO_STORE)


async def token(request: web.Request) -> web.Response:
    return await _token_endpoint(request, None)


async def refresh(request: web.Request) -> web.Response:
    return await _token_endpoint(request, "refresh_token")


async def authorize(request: web.Request) -> web.Response:
    spec = parse(oauth.AuthorizeRequest, await _form(request), "authorization request")
    approved = await oauth.authorize(await principal_of(request), spec)
    return json_response({"code": approved.code, "redirect_to": approved.redirect_to,
                          "expires_in": approved.expires_in}, headers=NO_STORE)


_TOKEN_BODY = {"type": "object", "required": ["grant_type"], "properties": {
    name: {"type": "string"} for name in ("grant_type", "client_id", "client_secret", "scope", "code",
                                          "redirect_uri", "code_verifier", "refresh_token")}}

ROUTES = [
    Route("POST", "/oauth/token", token, None, "Issue tokens (client_credentials, authorization_code, "
          "refresh_token)", "oauth", body=_TOKEN_BODY, public=True),
    Route("POST", "/oauth/refresh", refresh, None, "Rotate a refresh token", "oauth", body=_TOKEN_BODY,
          public=True),
    Route("POST", "/oauth/authorize", authorize, ADMIN_SCOPE, "Approve a client: an authorization code "
          "for a redirect URI, scopes and a PKCE S256 challenge", "oauth", body={"type": "object"}),
]
