"""Workspaces: the unit of isolation every other row belongs to."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from server.models.base import Timestamp


class Workspace(Model):
    id = fields.CharField(primary_key=True, max_length=40)
    name = fields.CharField(max_length=100, unique=True)
    created_at = Timestamp(auto_now_add=True)
    updated_at = Timestamp(auto_now=True)

    class Meta:
        table = "workspaces"
