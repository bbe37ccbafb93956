"""What authenticating a credential yields, whatever its kind (API key, own token, provider JWT)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from resolvers.principal import Principal


@dataclass(frozen=True)
class Identity:
    """An authenticated credential: its principal, when it stops being valid, and its rate-limit key.

    `list_versions` holds the workspace's list versions when they were read in the same statement as the
    credential (an API key: `{"datasets": n}`); a list answered from its cache then needs no statement.
    """

    principal: Principal
    expires_at: datetime | None
    rate_key: str
    kind: str
    list_versions: Mapping[str, int] = field(default_factory=dict)
