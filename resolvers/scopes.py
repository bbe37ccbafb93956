"""The scopes a credential can hold: read/write per domain, run:pipelines, and admin (which implies all)."""

from __future__ import annotations

from collections.abc import Iterable

from resolvers.errors import ValidationError
from resolvers.principal import ADMIN_SCOPE

DOMAINS = ("datasets", "pipelines", "jobs", "quality")
SCOPES: tuple[str, ...] = (
    *(f"{verb}:{domain}" for domain in DOMAINS for verb in ("read", "write")),
    "run:pipelines",
    ADMIN_SCOPE,
)

# Use cases that start work in the data plane. Each call counts once on the bulk rate budget, on every
# surface: the REST route whose handler has the name, and every occurrence of the GraphQL mutation field
# that resolves it (aliases, fragments and each operation of a batch included).
BULK_OPERATIONS: frozenset[str] = frozenset({"run_pipeline", "retry_job", "run_quality_rule", "profile_dataset"})


def check_scopes(scopes: Iterable[str], field: str = "scopes") -> list[str]:
    """The scopes, deduplicated in order; raises ValidationError on an unknown or missing scope."""
    wanted = list(dict.fromkeys(scopes))
    if not wanted:
        raise ValidationError("At least one scope is needed", field=field, reason="Empty scope list")
    unknown = [scope for scope in wanted if scope not in SCOPES]
    if unknown:
        raise ValidationError(f"Unknown scope '{unknown[0]}'", field=field,
                              reason=f"Expected some of {', '.join(SCOPES)}")
    return wanted


def split_scope(text: str | None) -> list[str]:
    """An OAuth `scope` string ("a b c") as a list; commas are accepted too."""
    return [part for part in (text or "").replace(",", " ").split() if part]


def known_scopes(claim: object) -> frozenset[str]:
    """A token's `scope` claim (a string or a list) mapped to DOCC scopes; unknown ones are dropped."""
    values = split_scope(claim) if isinstance(claim, str) else claim if isinstance(claim, list) else []
    return frozenset(scope for scope in values if isinstance(scope, str) and scope in SCOPES)


def grantable(requested: Iterable[str], allowed: Iterable[str]) -> bool:
    """True when every requested scope is within `allowed` (admin in `allowed` allows anything)."""
    allowed = set(allowed)
    return ADMIN_SCOPE in allowed or set(requested) <= allowed
