"""Workspaces: the unit of isolation every other row belongs to."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Workspace(Model):
    id = fields.CharField(primary_key=True, max_length=40)
    name = fields.CharField(max_length=100, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "workspaces"
