"""Settings from DOCC_* environment variables; nothing else reads os.environ."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_DATABASE_URL = "sqlite://./docc.db"


class SettingsError(ValueError):
    """A DOCC_* variable holds a value the server cannot use."""


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from exc


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from exc
    if value <= 0:
        raise SettingsError(f"{name} must be positive, got {raw!r}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


@dataclass(frozen=True)
class Settings:
    """Everything the server can be told at start-up."""

    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    max_body_bytes: int = 1_048_576
    graphql_max_depth: int = 12
    graphql_max_aliases: int = 30
    graphql_max_tokens: int = 5_000
    graphql_introspection: bool = True
    connections: Mapping[str, str] = field(default_factory=dict)
    run_jobs: bool = True
    run_schedules: bool = True
    max_concurrent_jobs: int = 2
    job_lease_seconds: float = 30.0
    job_poll_seconds: float = 1.0
    job_max_attempts: int = 3

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read the DOCC_* variables (os.environ by default)."""
        env = os.environ if env is None else env
        connections = {
            key[len("DOCC_CONNECTION_"):].lower(): value
            for key, value in env.items()
            if key.startswith("DOCC_CONNECTION_") and value
        }
        return cls(
            database_url=env.get("DOCC_DATABASE_URL") or DEFAULT_DATABASE_URL,
            host=env.get("DOCC_HOST") or "127.0.0.1",
            port=_int(env, "DOCC_PORT", 8000),
            log_level=(env.get("DOCC_LOG_LEVEL") or "INFO").upper(),
            max_body_bytes=_int(env, "DOCC_MAX_BODY_BYTES", 1_048_576),
            graphql_max_depth=_int(env, "DOCC_GRAPHQL_MAX_DEPTH", 12),
            graphql_max_aliases=_int(env, "DOCC_GRAPHQL_MAX_ALIASES", 30),
            graphql_max_tokens=_int(env, "DOCC_GRAPHQL_MAX_TOKENS", 5_000),
            graphql_introspection=_bool(env, "DOCC_GRAPHQL_INTROSPECTION", True),
            connections=connections,
            run_jobs=_bool(env, "DOCC_RUN_JOBS", True),
            run_schedules=_bool(env, "DOCC_RUN_SCHEDULES", True),
            max_concurrent_jobs=_int(env, "DOCC_MAX_CONCURRENT_JOBS", 2),
            job_lease_seconds=_float(env, "DOCC_JOB_LEASE_SECONDS", 30.0),
            job_poll_seconds=_float(env, "DOCC_JOB_POLL_SECONDS", 1.0),
            job_max_attempts=_int(env, "DOCC_JOB_MAX_ATTEMPTS", 3),
        )
