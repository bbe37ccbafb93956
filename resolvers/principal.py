"""Who is asking: the one object every resolver receives."""

from __future__ import annotations

from dataclasses import dataclass, field

from resolvers.errors import Forbidden

ADMIN_SCOPE = "admin"

DEFAULT_WORKSPACE_ID = "ws_default"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: subject, workspace and granted scopes."""

    subject: str
    workspace_id: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    credential_id: str | None = None

    def has_scope(self, scope: str) -> bool:
        """True when the scope is granted directly or through `admin`."""
        return ADMIN_SCOPE in self.scopes or scope in self.scopes

    def require(self, scope: str) -> None:
        """Raise Forbidden when the scope is missing."""
        if not self.has_scope(scope):
            raise Forbidden(f"This operation needs the '{scope}' scope",
                            {"required_scope": scope})
