"""Signed tokens: the short-lived access tokens this server issues, and an external provider's JWTs.

The two never share a verification path: our own tokens carry `kid: docc-hs1` and verify only
with HS256 and the server's secret; every other token verifies only with the configured
asymmetric algorithms and the provider's public keys, so a token cannot choose its algorithm.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from tortoise.exceptions import IntegrityError

from resolvers.errors import Unauthorized
from resolvers.principal import Principal
from resolvers.scopes import known_scopes
from server.auth.identity import Identity
from server.config import AuthSettings
from server.models.access import OAuthClient, RefreshToken, SigningKey
from server.models.core import Workspace

OWN_KID, OWN_ISSUER, OWN_ALGORITHM = "docc-hs1", "docc", "HS256"
# An unknown `kid` refetches the JWKS (key rotation) at most this often, so forged kids cannot flood the IdP.
JWKS_REFETCH_COOLDOWN_SECONDS = 30.0


def _refused(reason: str, message: str) -> Unauthorized:
    return Unauthorized(message, {"reason": reason})


async def load_signing_secret(configured: str) -> str:
    """DOCC_JWT_SIGNING_KEY, or the key generated on first start and kept in the database."""
    if configured:
        return configured
    row = await SigningKey.get_or_none(id=OWN_KID)
    if row is None:
        try:
            row = await SigningKey.create(id=OWN_KID, secret=secrets.token_urlsafe(48))
        except IntegrityError:  # another replica created it first
            row = await SigningKey.get(id=OWN_KID)
    return row.secret


@dataclass
class ProviderKeys:
    """Public keys of the external identity provider: a PEM file, a JWKS file, or a JWKS URL."""

    settings: AuthSettings
    _static: dict[str | None, Any] = field(default_factory=dict)
    _client: jwt.PyJWKClient | None = None

    def __post_init__(self) -> None:
        source = self.settings
        if source.jwt_public_key_file:
            with open(source.jwt_public_key_file, encoding="utf-8") as handle:
                self._static[None] = handle.read()
        url = source.jwt_jwks_url
        if url.startswith(("http://", "https://")):
            self._client = jwt.PyJWKClient(url, cache_keys=True, lifespan=300, timeout=5,
                                           cooldown_duration=JWKS_REFETCH_COOLDOWN_SECONDS)
        elif url:
            with open(url.removeprefix("file://"), encoding="utf-8") as handle:
                for key in jwt.PyJWKSet.from_dict(json.load(handle)).keys:
                    self._static[key.key_id] = key.key

    async def key_for(self, token: str, kid: str | None) -> Any:
        """The verification key for a token; raises Unauthorized when none matches."""
        if kid in self._static:
            return self._static[kid]
        if self._client is not None:
            try:
                return (await asyncio.to_thread(self._client.get_signing_key_from_jwt, token)).key
            except jwt.PyJWKClientError:
                raise _refused("unknown_key", "The token was signed by an unknown key") from None
        if None in self._static:
            return self._static[None]
        if len(self._static) == 1:
            return next(iter(self._static.values()))
        raise _refused("unknown_key", "The token was signed by an unknown key")


@dataclass
class TokenService:
    """Issues and verifies access tokens with the keys loaded at start-up."""

    settings: AuthSettings
    secret: str
    provider: ProviderKeys | None = None

    def issue(self, subject: str, workspace_id: str, scopes: list[str], client_id: str,
              family_id: str | None = None) -> tuple[str, int]:
        """A signed access token and its lifetime in seconds; `family_id` ties it to a refresh-token family."""
        now = datetime.now(UTC)
        ttl = self.settings.access_token_ttl_seconds
        claims = {"iss": OWN_ISSUER, "aud": self.settings.jwt_audience, "sub": subject, "ws": workspace_id,
                  "scope": " ".join(scopes), "cid": client_id, "jti": secrets.token_hex(12),
                  "iat": now, "exp": now + timedelta(seconds=ttl)}
        if family_id is not None:
            claims["fam"] = family_id
        token = jwt.encode(claims, self.secret, algorithm=OWN_ALGORITHM, headers={"kid": OWN_KID})
        return token, ttl

    async def verify(self, token: str) -> Identity:
        """The identity a bearer JWT carries; raises Unauthorized."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise _refused("malformed", "The token is malformed") from None
        if header.get("kid") == OWN_KID:
            return await self._own(token)
        if self.provider is None:
            raise _refused("unknown_issuer", "Tokens of external identity providers are not accepted")
        return await self._external(token, header.get("kid"))

    def _decode(self, token: str, key: Any, algorithms: list[str], issuer: str) -> dict[str, Any]:
        try:
            return jwt.decode(token, key, algorithms=algorithms, audience=self.settings.jwt_audience,
                              issuer=issuer, leeway=self.settings.jwt_leeway_seconds,
                              options={"require": ["exp", "iss", "aud", "sub"]})
        except jwt.ExpiredSignatureError:
            raise _refused("expired", "The token has expired") from None
        except jwt.InvalidIssuerError:
            raise _refused("issuer", "The token was issued by another issuer") from None
        except jwt.InvalidAudienceError:
            raise _refused("audience", "The token is meant for another audience") from None
        except jwt.ImmatureSignatureError:
            raise _refused("not_yet_valid", "The token is not valid yet") from None
        except jwt.InvalidTokenError:
            raise _refused("invalid", "The token is not valid") from None

    async def _own(self, token: str) -> Identity:
        claims = self._decode(token, self.secret, [OWN_ALGORITHM], OWN_ISSUER)
        client_id, workspace_id = claims.get("cid"), claims.get("ws")
        if not await OAuthClient.filter(id=client_id, workspace_id=workspace_id, revoked_at=None).exists():
            raise _refused("revoked", "The token's client was revoked")
        family = claims.get("fam")
        if family and await RefreshToken.filter(family_id=family, revoked_at__isnull=False).exists():
            # A reused refresh token revoked the family: its access tokens stop too, not only at expiry.
            raise _refused("revoked", "The token's grant was revoked")
        principal = Principal(subject=str(claims["sub"]), workspace_id=str(workspace_id),
                              scopes=known_scopes(claims.get("scope")), credential_id=str(client_id))
        return Identity(principal, datetime.fromtimestamp(claims["exp"], UTC), f"client:{client_id}", "oauth")

    async def _external(self, token: str, kid: str | None) -> Identity:
        assert self.provider is not None
        key = await self.provider.key_for(token, kid)
        claims = self._decode(token, key, list(self.settings.jwt_algorithms), self.settings.jwt_issuer)
        workspace_id = claims.get(self.settings.jwt_workspace_claim) or self.settings.jwt_workspace
        if not isinstance(workspace_id, str) or not await Workspace.filter(id=workspace_id).exists():
            raise _refused("workspace", "The token names no known workspace")
        subject = str(claims["sub"])
        principal = Principal(subject=subject, workspace_id=workspace_id,
                              scopes=known_scopes(claims.get("scope", claims.get("scp"))),
                              credential_id=f"jwt:{subject}")
        return Identity(principal, datetime.fromtimestamp(claims["exp"], UTC), f"jwt:{subject}", "jwt")
