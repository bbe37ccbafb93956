"""What authenticating a credential yields, whatever its kind (API key, own token, provider JWT)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from resolvers.principal import Principal


@dataclass(frozen=True)
class Identity:
    """An authenticated credential: its principal, when it stops being valid, and its rate-limit key."""

    principal: Principal
    expires_at: datetime | None
    rate_key: str
    kind: str
