"""Credentials: an API key, or OAuth client credentials whose access token is fetched and refreshed.

Both are httpx auth flows, which httpx drives the same way for its sync and async clients: the token
request is yielded like any other request, so there is one implementation for both.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Generator
from urllib.parse import quote

import httpx

from docc.errors import OAuthError, error_from_envelope
from docc.routes import TOKEN


class ApiKey(httpx.Auth):
    """Sends `Authorization: Bearer <key>`."""

    def __init__(self, key: str) -> None:
        self.key = key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.key}"
        yield request


class ClientCredentials(httpx.Auth):
    """OAuth 2.0 client credentials: a token from `/oauth/token`, fetched when first needed, again shortly
    before it expires, and again (once per request) when the server refuses it as expired or revoked."""

    requires_response_body = True

    def __init__(self, client_id: str, client_secret: str, *, scope: str | None = None,
                 token_url: str = TOKEN.path, margin: float = 30.0) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.scope = scope
        self.token_url = token_url
        self.margin = margin
        self.access_token: str | None = None
        self.expires_at = 0.0
        self.fetched = 0  # how many tokens this credential has fetched (for tests and diagnostics)

    def _fresh(self) -> bool:
        return self.access_token is not None and time.monotonic() < self.expires_at

    def _token_request(self, request: httpx.Request) -> httpx.Request:
        form = {"grant_type": "client_credentials"}
        if self.scope:
            form["scope"] = self.scope
        url = request.url.join(self.token_url)
        pair = f"{quote(self.client_id, safe='')}:{quote(self.client_secret, safe='')}".encode()
        return httpx.Request("POST", url, data=form, headers={
            "Accept": "application/json", "Authorization": f"Basic {base64.b64encode(pair).decode()}"})

    def _store(self, response: httpx.Response) -> None:
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code == 429 or (isinstance(body, dict) and isinstance(body.get("error"), dict)):
            raise error_from_envelope(response.status_code, body, response.headers)
        if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
            error = body.get("error") if isinstance(body, dict) else None
            description = body.get("error_description") if isinstance(body, dict) else None
            raise OAuthError(f"The token endpoint refused: {error or response.status_code}"
                             + (f" ({description})" if description else ""), status=response.status_code,
                             details={"error": error, "error_description": description},
                             request_id=response.headers.get("X-Request-ID"))
        lifetime = float(body.get("expires_in") or 0)
        # Refresh ahead of expiry by `margin`, but never by more than half a (short) token's life.
        self.access_token = body["access_token"]
        self.expires_at = time.monotonic() + max(lifetime - min(self.margin, lifetime / 2), 0.0)
        self.fetched += 1

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        fetched_now = False
        if not self._fresh():
            self._store((yield self._token_request(request)))
            fetched_now = True
        request.headers["Authorization"] = f"Bearer {self.access_token}"
        response = yield request
        if response.status_code == 401 and not fetched_now:
            # Expired early (clock skew), or revoked: one new token, one more try.
            self._store((yield self._token_request(request)))
            request.headers["Authorization"] = f"Bearer {self.access_token}"
            yield request
