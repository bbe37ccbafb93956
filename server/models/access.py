"""Credentials: API keys, OAuth clients with their secrets, codes and refresh tokens, the signing key.

Every secret a client presents is stored as a SHA-256 hash of a high-entropy value, never in the clear;
only a short visible prefix is kept so people can tell their keys apart. The signing key, which the
server must read back, is encrypted at rest instead.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from server.crypto.fields import SealedTextField
from server.models.base import Timestamp, WorkspaceRow


class ApiKey(WorkspaceRow):
    name = fields.CharField(max_length=100)
    prefix = fields.CharField(max_length=20)
    key_hash = fields.CharField(max_length=64, unique=True)
    scopes = fields.JSONField(default=list)
    allowed_cidrs = fields.JSONField(default=list)
    expires_at = Timestamp(null=True)
    revoked_at = Timestamp(null=True)
    last_used_at = Timestamp(null=True)
    rotated_from = fields.CharField(max_length=40, null=True)
    created_by = fields.CharField(max_length=200, default="")

    class Meta:
        table = "api_keys"


class OAuthClient(WorkspaceRow):
    name = fields.CharField(max_length=100)
    scopes = fields.JSONField(default=list)
    redirect_uris = fields.JSONField(default=list)
    revoked_at = Timestamp(null=True)

    class Meta:
        table = "oauth_clients"


class OAuthClientSecret(Model):
    id = fields.CharField(primary_key=True, max_length=40)
    client = fields.ForeignKeyField("access.OAuthClient", related_name="secrets", on_delete=fields.CASCADE)
    prefix = fields.CharField(max_length=20)
    secret_hash = fields.CharField(max_length=64, unique=True)
    description = fields.CharField(max_length=200, default="")
    expires_at = Timestamp(null=True)
    revoked_at = Timestamp(null=True)
    created_at = Timestamp(auto_now_add=True)

    class Meta:
        table = "oauth_client_secrets"


class AuthorizationCode(Model):
    code_hash = fields.CharField(primary_key=True, max_length=64)
    client = fields.ForeignKeyField("access.OAuthClient", related_name="codes", on_delete=fields.CASCADE)
    workspace_id = fields.CharField(max_length=40)
    subject = fields.CharField(max_length=200)
    scopes = fields.JSONField(default=list)
    redirect_uri = fields.CharField(max_length=2000)
    code_challenge = fields.CharField(max_length=128)
    expires_at = Timestamp()
    used_at = Timestamp(null=True)
    created_at = Timestamp(auto_now_add=True)

    class Meta:
        table = "oauth_authorization_codes"


class RefreshToken(Model):
    id = fields.CharField(primary_key=True, max_length=40)
    token_hash = fields.CharField(max_length=64, unique=True)
    # Every token rotated from one grant shares a family: reusing any of them revokes it all.
    family_id = fields.CharField(max_length=40, db_index=True)
    client = fields.ForeignKeyField("access.OAuthClient", related_name="refresh_tokens",
                                    on_delete=fields.CASCADE)
    workspace_id = fields.CharField(max_length=40)
    subject = fields.CharField(max_length=200)
    scopes = fields.JSONField(default=list)
    expires_at = Timestamp()
    used_at = Timestamp(null=True)
    revoked_at = Timestamp(null=True)
    created_at = Timestamp(auto_now_add=True)

    class Meta:
        table = "oauth_refresh_tokens"


class SigningKey(Model):
    """The server's own HMAC key for the access tokens it issues (when DOCC_JWT_SIGNING_KEY is unset)."""

    id = fields.CharField(primary_key=True, max_length=40)
    # Recoverable, so encrypted with the secret key (not hashed): the server signs with it.
    secret = SealedTextField()
    created_at = Timestamp(auto_now_add=True)

    class Meta:
        table = "signing_keys"
