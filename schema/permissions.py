"""Declared permissions: every field names the scope it needs (the domain checks ownership)."""

from __future__ import annotations

from typing import Any

from strawberry.extensions.field_extension import FieldExtension
from strawberry.permission import BasePermission, PermissionExtension

from resolvers.errors import Forbidden


class HasScope(BasePermission):
    """Allows the field when the caller holds `scope` (or `admin`)."""

    def __init__(self, scope: str) -> None:
        self.scope = scope
        self.message = f"This operation needs the '{scope}' scope"

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        principal = getattr(info.context, "principal", None)
        return principal is not None and principal.has_scope(self.scope)

    def on_unauthorized(self) -> None:
        raise Forbidden(self.message, {"required_scope": self.scope})


def needs(scope: str) -> list[FieldExtension]:
    """The field extensions that guard a field with `scope`: `@strawberry.field(extensions=needs(...))`."""
    return [PermissionExtension(permissions=[HasScope(scope)], use_directives=False)]
