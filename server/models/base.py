"""What every stored row has: an opaque prefixed id, a workspace and timestamps."""

from __future__ import annotations

import secrets

from tortoise import fields
from tortoise.models import Model


def new_id(prefix: str) -> str:
    """An opaque id such as `ds_5f0c2a9e1b7d4c3a8e6f`."""
    return f"{prefix}_{secrets.token_hex(10)}"


class WorkspaceRow(Model):
    """Abstract base: a row owned by one workspace."""

    id = fields.CharField(primary_key=True, max_length=40)
    workspace_id = fields.CharField(max_length=40, db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        abstract = True
