"""Settings from DOCC_* environment variables; nothing else reads os.environ."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography.fernet import Fernet

DEFAULT_DATABASE_URL = "sqlite://./docc.db"
DEFAULT_DATA_DIR = "./docc-data"
# DOCC_CONNECTION_<NAME> names a connection; these DOCC_CONNECTION_* variables are settings instead.
_CONNECTION_SETTINGS = {"DOCC_CONNECTION_HOSTS"}


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


def _non_negative(env: Mapping[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value < 0:
        raise SettingsError(f"{name} must be 0 (no limit) or more, got {value}")
    return value


def _job_log_level(env: Mapping[str, str]) -> str:
    value = (env.get("DOCC_JOB_LOG_LEVEL") or "info").lower()
    if value not in ("debug", "info", "warning", "error"):
        raise SettingsError(f"DOCC_JOB_LOG_LEVEL must be debug, info, warning or error, not {value!r}")
    return value


def _job_forkserver(env: Mapping[str, str]) -> str:
    value = (env.get("DOCC_JOB_FORKSERVER") or "on-demand").lower()
    if value not in ("on-demand", "always"):
        raise SettingsError(f"DOCC_JOB_FORKSERVER must be on-demand or always, not {value!r}")
    return value


def _retention_days(env: Mapping[str, str]) -> float:
    raw = env.get("DOCC_JOB_RETENTION_DAYS")
    if raw is None or raw == "" or raw == "0":
        return 0.0
    return _float(env, "DOCC_JOB_RETENTION_DAYS", 0.0)


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


def _float_or_never(env: Mapping[str, str], name: str, default: float) -> float:
    """A positive number of seconds, or 0 for "never"."""
    if env.get(name) in ("0", "0.0"):
        return 0.0
    return _float(env, name, default)


def _days_or_never(env: Mapping[str, str], name: str, default: int) -> int:
    """A positive number of days, or 0 for "keep forever"."""
    value = _int(env, name, default)
    if value < 0:
        raise SettingsError(f"{name} must be 0 (keep forever) or a number of days, got {value}")
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


def is_fernet_key(key: str) -> bool:
    """True when `key` is usable as a Fernet key."""
    try:
        Fernet(key)
    except (ValueError, TypeError):
        return False
    return True


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value < 1:
        raise SettingsError(f"{name} must be at least 1, got {value}")
    return value


def _workers(env: Mapping[str, str]) -> int:
    workers = _positive(env, "DOCC_WORKERS", 1)
    database_url = env.get("DOCC_DATABASE_URL") or DEFAULT_DATABASE_URL
    if workers > 1 and not database_url.startswith(("postgres://", "postgresql://")):
        # Live job events reach other processes through PostgreSQL's LISTEN/NOTIFY only; on SQLite a
        # log follower on one process would never hear of a job run by another.
        raise SettingsError("DOCC_WORKERS above 1 needs PostgreSQL (DOCC_DATABASE_URL=postgres://...)")
    return workers


def _secret_keys(env: Mapping[str, str]) -> tuple[str, ...]:
    keys = tuple(part.strip() for part in (env.get("DOCC_SECRET_KEY") or "").split(",") if part.strip())
    if keys and env.get("DOCC_SECRET_KEY_FILE"):
        raise SettingsError("Set DOCC_SECRET_KEY or DOCC_SECRET_KEY_FILE, not both")
    for position, key in enumerate(keys, start=1):
        if not is_fernet_key(key):
            # The value itself is never echoed: it is a secret even when malformed.
            raise SettingsError(f"DOCC_SECRET_KEY: key {position} is not a Fernet key (32 bytes in url-safe "
                                "base64); make one with `docc-server generate-secret-key`")
    return keys


def _hosts(env: Mapping[str, str]) -> tuple[str, ...]:
    from server.engine.dataplane.hosts import parse_allow_list  # The data plane owns the vocabulary.

    try:
        return parse_allow_list(env.get("DOCC_CONNECTION_HOSTS") or "")
    except ValueError as exc:
        raise SettingsError(str(exc)) from None


# Only asymmetric algorithms verify tokens of an external identity provider: never `none`,
# never an HMAC whose "secret" would be the provider's public key.
EXTERNAL_JWT_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")


@dataclass(frozen=True)
class AuthSettings:
    """Credentials: the server's own token signing key and an optional external identity provider."""

    jwt_signing_key: str = ""
    jwt_issuer: str = ""
    jwt_audience: str = "docc-api"
    jwt_jwks_url: str = ""
    jwt_public_key_file: str = ""
    jwt_algorithms: tuple[str, ...] = ("RS256", "ES256")
    jwt_workspace: str = "ws_default"
    jwt_workspace_claim: str = "workspace"
    jwt_leeway_seconds: int = 30
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 30 * 86_400
    ws_auth_check_seconds: float = 30.0
    ws_heartbeat_seconds: float = 20.0
    ws_max_sockets_per_credential: int = 50
    ws_max_subscriptions_per_socket: int = 20
    # Operations in flight over all the sockets of one credential; one more is refused with 4429.
    ws_max_subscriptions_per_credential: int = 200
    # A socket with no operation in flight that sends nothing for this long is closed with 4408 (0: never).
    ws_idle_seconds: float = 300.0
    key_usage_flush_seconds: float = 60.0

    @property
    def external_jwt(self) -> bool:
        """True when an external identity provider is configured."""
        return bool(self.jwt_issuer and (self.jwt_jwks_url or self.jwt_public_key_file))

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AuthSettings:
        """Read the DOCC_JWT_*, DOCC_OAUTH_* and DOCC_WS_* variables."""
        algorithms = tuple(a.strip() for a in (env.get("DOCC_JWT_ALGORITHMS") or "RS256,ES256").split(",")
                           if a.strip())
        refused = [a for a in algorithms if a not in EXTERNAL_JWT_ALGORITHMS]
        if refused or not algorithms:
            raise SettingsError(f"DOCC_JWT_ALGORITHMS allows only {', '.join(EXTERNAL_JWT_ALGORITHMS)}")
        signing_key = env.get("DOCC_JWT_SIGNING_KEY") or ""
        if signing_key and len(signing_key) < 32:
            raise SettingsError("DOCC_JWT_SIGNING_KEY must be at least 32 characters")
        return cls(
            jwt_signing_key=signing_key,
            jwt_issuer=env.get("DOCC_JWT_ISSUER") or "",
            jwt_audience=env.get("DOCC_JWT_AUDIENCE") or "docc-api",
            jwt_jwks_url=env.get("DOCC_JWT_JWKS_URL") or "",
            jwt_public_key_file=env.get("DOCC_JWT_PUBLIC_KEY_FILE") or "",
            jwt_algorithms=algorithms,
            jwt_workspace=env.get("DOCC_JWT_WORKSPACE") or "ws_default",
            jwt_workspace_claim=env.get("DOCC_JWT_WORKSPACE_CLAIM") or "workspace",
            jwt_leeway_seconds=_int(env, "DOCC_JWT_LEEWAY_SECONDS", 30),
            access_token_ttl_seconds=_positive(env, "DOCC_OAUTH_ACCESS_TOKEN_TTL", 900),
            refresh_token_ttl_seconds=_positive(env, "DOCC_OAUTH_REFRESH_TOKEN_TTL", 30 * 86_400),
            ws_auth_check_seconds=_float(env, "DOCC_WS_AUTH_CHECK_SECONDS", 30.0),
            ws_heartbeat_seconds=_float(env, "DOCC_WS_HEARTBEAT_SECONDS", 20.0),
            ws_max_sockets_per_credential=_positive(env, "DOCC_WS_MAX_SOCKETS_PER_CREDENTIAL", 50),
            ws_max_subscriptions_per_socket=_positive(env, "DOCC_WS_MAX_SUBSCRIPTIONS_PER_SOCKET", 20),
            ws_max_subscriptions_per_credential=_positive(env, "DOCC_WS_MAX_SUBSCRIPTIONS_PER_CREDENTIAL", 200),
            ws_idle_seconds=_float_or_never(env, "DOCC_WS_IDLE_SECONDS", 300.0),
            key_usage_flush_seconds=_float(env, "DOCC_KEY_USAGE_FLUSH_SECONDS", 60.0),
        )


@dataclass(frozen=True)
class Settings:
    """Everything the server can be told at start-up."""

    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = 8000
    # API processes sharing the port (SO_REUSEPORT); more than one needs PostgreSQL (events cross processes).
    workers: int = 1
    log_level: str = "INFO"
    max_body_bytes: int = 1_048_576
    graphql_max_depth: int = 12
    graphql_max_aliases: int = 30
    graphql_max_tokens: int = 5_000
    graphql_introspection: bool = True
    graphql_suggestions: bool = True
    graphql_max_cost: int = 10_000
    graphql_cost_unit: int = 100
    graphql_max_batch: int = 10
    connections: Mapping[str, str] = field(default_factory=dict)
    # Empty means "the data folder": file sources and sinks are confined to data_dir unless widened.
    file_roots: tuple[str, ...] = ()
    data_dir: str = DEFAULT_DATA_DIR
    connection_hosts: tuple[str, ...] = ()
    # Connection strings users give may reach this machine's own addresses (loopback, its interfaces).
    connection_local: bool = False
    run_jobs: bool = True
    run_schedules: bool = True
    max_concurrent_jobs: int = 2
    # Cluster-wide limits on running jobs (0: none); a job over a limit stays `queued`, in order.
    max_running_jobs: int = 0
    max_running_jobs_per_pipeline: int = 0
    job_lease_seconds: float = 30.0
    job_poll_seconds: float = 1.0
    job_max_attempts: int = 3
    job_memory_mb: int = 4096
    job_timeout_seconds: float = 3600.0
    job_cancel_grace_seconds: float = 10.0
    # The forkserver job processes fork from (Polars and the data plane imported, about 100 MiB):
    # "on-demand" starts it with the first job and stops it after job_forkserver_idle_seconds without one;
    # "always" starts it with the server and keeps it.
    job_forkserver: str = "on-demand"
    job_forkserver_idle_seconds: float = 300.0
    # How often a process running jobs looks for what killed processes staged and left behind.
    staging_sweep_seconds: float = 60.0
    # Lines of a job's log below this level (debug < info < warning < error) are not stored.
    job_log_level: str = "info"
    # Finished jobs older than this many days are removed with their logs (0: kept forever), checked hourly.
    job_retention_days: float = 0.0
    job_retention_interval_seconds: float = 3600.0
    # Live events a subscriber may have waiting; a follower of a job's log that falls further behind is told
    # it lagged (with its cursor) and its stream ends.
    subscriber_queue_size: int = 1_000
    # Rows of the dashboard feed (job_events) older than this many days are deleted, in batches (0: kept).
    job_events_retention_days: int = 30
    rate_limit_per_minute: int = 1_000
    rate_limit_bulk_per_minute: int = 100
    rate_limit_auth_per_minute: int = 10
    # Secrets at rest: Fernet keys given directly (the first encrypts, all decrypt), or a key file; with
    # neither, a key file beside the SQLite database (or ./docc.key for PostgreSQL) is created on first start.
    secret_keys: tuple[str, ...] = ()
    secret_key_file: str = ""
    auth: AuthSettings = field(default_factory=lambda: AuthSettings())

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read the DOCC_* variables (os.environ by default)."""
        env = os.environ if env is None else env
        connections = {
            key[len("DOCC_CONNECTION_"):].lower(): value
            for key, value in env.items()
            if key.startswith("DOCC_CONNECTION_") and key not in _CONNECTION_SETTINGS and value
        }
        return cls(
            database_url=env.get("DOCC_DATABASE_URL") or DEFAULT_DATABASE_URL,
            host=env.get("DOCC_HOST") or "127.0.0.1",
            port=_int(env, "DOCC_PORT", 8000),
            workers=_workers(env),
            log_level=(env.get("DOCC_LOG_LEVEL") or "INFO").upper(),
            max_body_bytes=_int(env, "DOCC_MAX_BODY_BYTES", 1_048_576),
            graphql_max_depth=_int(env, "DOCC_GRAPHQL_MAX_DEPTH", 12),
            graphql_max_aliases=_int(env, "DOCC_GRAPHQL_MAX_ALIASES", 30),
            graphql_max_tokens=_int(env, "DOCC_GRAPHQL_MAX_TOKENS", 5_000),
            graphql_introspection=_bool(env, "DOCC_GRAPHQL_INTROSPECTION", True),
            graphql_suggestions=_bool(env, "DOCC_GRAPHQL_SUGGESTIONS", True),
            graphql_max_cost=_int(env, "DOCC_GRAPHQL_MAX_COST", 10_000),
            graphql_cost_unit=_int(env, "DOCC_GRAPHQL_COST_UNIT", 100),
            graphql_max_batch=_int(env, "DOCC_GRAPHQL_MAX_BATCH", 10),
            connections=connections,
            file_roots=tuple(part for part in (env.get("DOCC_FILE_ROOTS") or "").split(os.pathsep) if part),
            data_dir=env.get("DOCC_DATA_DIR") or DEFAULT_DATA_DIR,
            connection_hosts=_hosts(env),
            connection_local=_bool(env, "DOCC_CONNECTION_LOCAL", False),
            run_jobs=_bool(env, "DOCC_RUN_JOBS", True),
            run_schedules=_bool(env, "DOCC_RUN_SCHEDULES", True),
            max_concurrent_jobs=_int(env, "DOCC_MAX_CONCURRENT_JOBS", 2),
            max_running_jobs=_non_negative(env, "DOCC_MAX_RUNNING_JOBS", 0),
            max_running_jobs_per_pipeline=_non_negative(env, "DOCC_MAX_RUNNING_JOBS_PER_PIPELINE", 0),
            job_lease_seconds=_float(env, "DOCC_JOB_LEASE_SECONDS", 30.0),
            job_poll_seconds=_float(env, "DOCC_JOB_POLL_SECONDS", 1.0),
            job_max_attempts=_int(env, "DOCC_JOB_MAX_ATTEMPTS", 3),
            job_memory_mb=_positive(env, "DOCC_JOB_MEMORY_MB", 4096),
            job_timeout_seconds=_float(env, "DOCC_JOB_TIMEOUT_SECONDS", 3600.0),
            job_cancel_grace_seconds=_float(env, "DOCC_JOB_CANCEL_GRACE_SECONDS", 10.0),
            job_forkserver=_job_forkserver(env),
            job_forkserver_idle_seconds=_float(env, "DOCC_JOB_FORKSERVER_IDLE_SECONDS", 300.0),
            staging_sweep_seconds=_float(env, "DOCC_STAGING_SWEEP_SECONDS", 60.0),
            job_log_level=_job_log_level(env),
            job_retention_days=_retention_days(env),
            job_retention_interval_seconds=_float(env, "DOCC_JOB_RETENTION_INTERVAL_SECONDS", 3600.0),
            subscriber_queue_size=_positive(env, "DOCC_SUBSCRIBER_QUEUE_SIZE", 1_000),
            job_events_retention_days=_days_or_never(env, "DOCC_JOB_EVENTS_RETENTION_DAYS", 30),
            rate_limit_per_minute=_positive(env, "DOCC_RATE_LIMIT_PER_MINUTE", 1_000),
            rate_limit_bulk_per_minute=_positive(env, "DOCC_RATE_LIMIT_BULK_PER_MINUTE", 100),
            rate_limit_auth_per_minute=_positive(env, "DOCC_RATE_LIMIT_AUTH_PER_MINUTE", 10),
            secret_keys=_secret_keys(env),
            secret_key_file=env.get("DOCC_SECRET_KEY_FILE") or "",
            auth=AuthSettings.from_env(env),
        )
