"""Where a client's settings come from: arguments, then DOCC_* environment variables, then a profile of the
config file that `docc login` writes ($XDG_CONFIG_HOME/docc/config, else ~/.config/docc/config)."""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_PROFILE = "default"


@dataclass(frozen=True)
class Settings:
    url: str
    api_key: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    scope: str | None = None
    profile: str = DEFAULT_PROFILE


def config_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "docc" / "config"


def read_profile(profile: str, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The profile's values in the config file ({} when there is no file or no such profile)."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(config_path(env))
    return dict(parser[profile]) if parser.has_section(profile) else {}


def save_profile(profile: str, values: Mapping[str, str], env: Mapping[str, str] | None = None) -> Path:
    """Store a profile (the file is readable by its owner only: it holds a key)."""
    path = config_path(env)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path)
    parser[profile] = {name: value for name, value in values.items() if value}
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        parser.write(handle)
    os.chmod(path, 0o600)
    return path


def resolve(url: str | None = None, api_key: str | None = None, *, client_id: str | None = None,
            client_secret: str | None = None, scope: str | None = None, profile: str | None = None,
            env: Mapping[str, str] | None = None) -> Settings:
    """Each setting from the first place that has it: argument, environment, profile, default."""
    env = os.environ if env is None else env
    name = profile or env.get("DOCC_PROFILE") or DEFAULT_PROFILE
    stored = read_profile(name, env)

    def pick(given: str | None, variable: str, key: str) -> str | None:
        return given or env.get(variable) or stored.get(key) or None

    return Settings(
        url=(pick(url, "DOCC_URL", "url") or DEFAULT_URL).rstrip("/"),
        api_key=pick(api_key, "DOCC_API_KEY", "api_key"),
        client_id=pick(client_id, "DOCC_CLIENT_ID", "client_id"),
        client_secret=pick(client_secret, "DOCC_CLIENT_SECRET", "client_secret"),
        scope=pick(scope, "DOCC_SCOPE", "scope"),
        profile=name,
    )
