"""SDK and CLI tests: a real server on a real port, and the SDK from clients/python (not installed: the
repository's test command installs its dependencies through the server's `test` extra)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SDK_ROOT = Path(__file__).resolve().parents[2] / "clients" / "python"
if str(SDK_ROOT) not in sys.path:
    sys.path.insert(0, str(SDK_ROOT))

from tests.conftest import test_settings  # noqa: E402
from tests.live import live_app  # noqa: E402


@dataclass(frozen=True)
class Server:
    """A running server: its URL, an admin key of ws_default, and the folder its files may live in."""

    url: str
    key: str
    files: Path


def start(tmp: Path, **settings: Any) -> Any:
    """A live server on its own SQLite database in `tmp`, with these settings changed."""
    return live_app(test_settings(f"sqlite://{tmp}/docc.db", tmp, **settings), "sdk-tests")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for a test module (starting one takes a second): tests use names of their own."""
    tmp = tmp_path_factory.mktemp("server")
    with start(tmp) as (port, key):
        yield Server(f"http://127.0.0.1:{port}", key, tmp)


@pytest.fixture
def env(server: Server, tmp_path: Path) -> dict[str, str]:
    """An environment naming the server and the key, with a config folder of the test's own."""
    return {"DOCC_URL": server.url, "DOCC_API_KEY": server.key, "XDG_CONFIG_HOME": str(tmp_path / "config")}


@pytest.fixture
def docc_cli(env: dict[str, str]) -> Any:
    """Runs `docc` in this process with the test's environment; returns click's result."""
    from click.testing import CliRunner
    from docc.cli import cli

    runner = CliRunner()

    def run(*args: str, **extra_env: str) -> Any:
        return runner.invoke(cli, list(args), env={**env, **extra_env}, catch_exceptions=False)

    return run


@pytest.fixture
def sdk(server: Server) -> Iterator[Any]:
    """A sync SDK client with the admin key."""
    import docc

    with docc.Client(server.url, server.key) as client:
        yield client
