"""The npm `graphql-http` audit suite, run against a real server: every audit must pass.

The audit package is pinned in tests/graphql_http_audit/package.json (with its lock file) and
installed there by the test itself when missing, so a fresh clone needs only node and npm.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from server.config import Settings
from tests.live import live_app

AUDIT_DIR = Path(__file__).resolve().parent.parent / "graphql_http_audit"
NODE, NPM = shutil.which("node"), shutil.which("npm")


def _installed_pin() -> bool:
    """Whether node_modules holds the graphql-http version package.json pins (a bumped pin reinstalls)."""
    installed = AUDIT_DIR / "node_modules" / "graphql-http" / "package.json"
    if not installed.exists():
        return False
    pinned = json.loads((AUDIT_DIR / "package.json").read_text())["dependencies"]["graphql-http"]
    return json.loads(installed.read_text())["version"] == pinned


def _install_audit_package() -> None:
    """`npm ci` from the committed lock file, once per checkout (node_modules is not committed)."""
    if _installed_pin():
        return
    assert NPM is not None
    done = subprocess.run([NPM, "ci", "--no-audit", "--no-fund", "--prefix", str(AUDIT_DIR)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"npm ci failed in {AUDIT_DIR}:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def audited_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(GraphQL URL, admin key) of a server on its own SQLite database: the audit is about HTTP, not storage."""
    root = tmp_path_factory.mktemp("audit")
    settings = replace(Settings(), database_url=f"sqlite://{root}/docc.db", file_roots=(str(root),),
                       data_dir=str(root / "docc-data"), secret_key_file=str(root / "docc.key"),
                       rate_limit_per_minute=1_000_000)
    with live_app(settings, "audit") as (port, key):
        yield f"http://127.0.0.1:{port}/graphql", key


@pytest.mark.skipif(NODE is None or NPM is None, reason="node and npm are needed to run the graphql-http audit")
def test_every_graphql_over_http_audit_passes(audited_server: tuple[str, str]) -> None:
    # given
    url, key = audited_server
    _install_audit_package()
    # when
    done = subprocess.run([NODE or "node", str(AUDIT_DIR / "audit.mjs"), url], cwd=AUDIT_DIR,
                          env={"PATH": str(Path(NODE or "node").parent), "DOCC_AUDIT_KEY": key},
                          capture_output=True, text=True, timeout=300, check=False)
    # then
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    failed = [result for result in results if result["status"] != "ok"]
    assert not failed, json.dumps(failed, indent=1)
    assert len(results) == 61
