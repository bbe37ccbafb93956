"""The secret key: its settings, the key file and its mode, a wrong or missing key refused at start, rotation."""

from __future__ import annotations

import asyncio
import os
import stat
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from tortoise import connections

from resolvers import datasets
from server.__main__ import main
from server.app import create_app
from server.auth.jwt_tokens import load_signing_secret
from server.config import Settings, SettingsError
from server.crypto.keys import SecretsError, secret_key_path
from server.crypto.stored import secrets_at_rest
from server.db import database
from server.models.datasets import Dataset
from tests.engine.helpers import PRINCIPAL, SCHEMA, TEST_POLICY

from .secrets_helpers import new_key, raw_store

SOURCE = {"type": "database", "connection": "postgresql://etl:Rotate-Pw-41c2@db.example.com:5432/w", "table": "t"}


def keyed(database_url: str, *keys: str) -> Settings:
    return replace(Settings(), database_url=database_url, secret_keys=keys)


async def _store_secrets(settings: Settings) -> tuple[str, str]:
    """A dataset with a password and the signing key, sealed with the settings' key; (dataset id, signing key)."""
    async with database(settings.database_url), secrets_at_rest(settings):
        spec = datasets.DatasetCreate.model_validate({"name": "orders", "schema": SCHEMA, "source": SOURCE})
        row = await datasets.create_dataset(PRINCIPAL, spec, policy=TEST_POLICY)
        return row.id, await load_signing_secret("")


async def _read_back(settings: Settings, dataset_id: str) -> tuple[dict, str]:
    async with database(settings.database_url), secrets_at_rest(settings):
        return (await Dataset.get(id=dataset_id)).source, await load_signing_secret("")


async def _sealed_tokens() -> list[str]:
    rows = await connections.get("default").execute_query_dict("SELECT secret FROM signing_keys")
    return [row["secret"] for row in rows]


def test_keys_are_read_from_the_environment():
    first, second = new_key(), new_key()
    settings = Settings.from_env({"DOCC_SECRET_KEY": f"{first}, {second}"})
    assert settings.secret_keys == (first, second) and secret_key_path(settings) is None
    from_file = Settings.from_env({"DOCC_SECRET_KEY_FILE": "/etc/docc/docc.key"})
    assert secret_key_path(from_file) == Path("/etc/docc/docc.key")


@pytest.mark.parametrize("env", [{"DOCC_SECRET_KEY": "not-a-fernet-key"},
                                 {"DOCC_SECRET_KEY": f"{new_key()},c2hvcnQ="},  # the second decodes to 5 bytes
                                 {"DOCC_SECRET_KEY": new_key(), "DOCC_SECRET_KEY_FILE": "/tmp/k"}])
def test_unusable_keys_are_refused_naming_the_setting_not_the_value(env):
    with pytest.raises(SettingsError, match="DOCC_SECRET_KEY") as refused:
        Settings.from_env(env)
    assert env["DOCC_SECRET_KEY"] not in str(refused.value)


def test_the_default_key_file_sits_beside_the_sqlite_database_or_in_the_current_directory(tmp_path):
    assert secret_key_path(replace(Settings(), database_url=f"sqlite://{tmp_path}/data/docc.db")) == \
        tmp_path / "data" / "docc.key"
    assert secret_key_path(replace(Settings(), database_url="postgres://db.example/docc")) == Path.cwd() / "docc.key"
    assert secret_key_path(replace(Settings(), database_url="sqlite://:memory:")) is None


async def test_the_key_file_is_created_on_first_start_with_mode_0600(tmp_path):
    # given a fresh SQLite install with no key configured
    settings = replace(Settings(), database_url=f"sqlite://{tmp_path}/docc.db")
    # when it starts, stores secrets, and starts again
    dataset_id, signing = await _store_secrets(settings)
    source, signing_again = await _read_back(settings, dataset_id)
    # then the key file beside the database is private, holds one key, and the second start used it
    key_file = tmp_path / "docc.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    Fernet(key_file.read_text().strip())
    assert (source, signing_again) == (SOURCE, signing)
    assert key_file.read_bytes() not in await raw_store(settings.database_url)


async def test_a_key_file_readable_by_others_is_refused(tmp_path):
    # given a key file that the group can read
    key_file = tmp_path / "docc.key"
    key_file.write_text(new_key() + "\n")
    key_file.chmod(0o640)
    settings = replace(Settings(), database_url=f"sqlite://{tmp_path}/docc.db", secret_key_file=str(key_file))
    # when the server starts, then it refuses, naming the file and the fix
    async with database(settings.database_url):
        with pytest.raises(SecretsError, match="chmod 600"):
            async with secrets_at_rest(settings):
                pass


async def test_a_missing_key_file_is_not_recreated_when_secrets_are_stored(tmp_path):
    # given secrets sealed with a key file that is then lost
    settings = replace(Settings(), database_url=f"sqlite://{tmp_path}/docc.db")
    await _store_secrets(settings)
    (tmp_path / "docc.key").unlink()
    # when the server starts, then it refuses and creates no new key that could never decrypt them
    async with database(settings.database_url):
        with pytest.raises(SecretsError, match="restore it from your backup"):
            async with secrets_at_rest(settings):
                pass
    assert not (tmp_path / "docc.key").exists()


async def test_a_wrong_key_stops_the_app_at_start(database_url, aiohttp_client):
    # given secrets sealed with one key
    await _store_secrets(keyed(database_url, new_key()))
    # when the app starts with another key, then it does not start, and the error names the setting
    with pytest.raises(SecretsError, match="cannot be decrypted with the keys of DOCC_SECRET_KEY"):
        await aiohttp_client(create_app(keyed(database_url, new_key())))


async def test_the_serve_command_refuses_a_wrong_key_with_a_clear_message(tmp_path):
    # given secrets sealed with one key
    database_url = f"sqlite://{tmp_path}/docc.db"
    await _store_secrets(keyed(database_url, new_key()))
    env = {**os.environ, "DOCC_DATABASE_URL": database_url, "DOCC_SECRET_KEY": new_key(), "DOCC_PORT": "0",
           "DOCC_LOG_LEVEL": "WARNING"}
    # when `docc-server serve` starts with another key
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "server", "serve", env=env,
                                                   stderr=asyncio.subprocess.PIPE)
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
    # then it exits at once with the setting named, and no traceback
    message = stderr.decode()
    assert process.returncode == 2, message
    assert "DOCC_SECRET_KEY" in message and "Traceback" not in message


async def _rotate(database_url: str, keys: str) -> tuple[int, str]:
    env = {**os.environ, "DOCC_DATABASE_URL": database_url, "DOCC_SECRET_KEY": keys, "DOCC_LOG_LEVEL": "WARNING"}
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "server", "rotate-secrets", env=env,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, stdout.decode() + stderr.decode()


async def test_rotation_reencrypts_every_secret_with_the_new_key(database_url):
    # given secrets sealed with the old key
    old, new = new_key(), new_key()
    dataset_id, signing = await _store_secrets(keyed(database_url, old))
    async with database(database_url):
        old_tokens = await _sealed_tokens()
    # when the operator puts a new key first and runs rotate-secrets
    code, output = await _rotate(database_url, f"{new},{old}")
    # then every secret reads back unchanged with the new key alone, and the old key alone is refused
    assert code == 0 and "Re-encrypted 2 stored secret(s)" in output, output
    assert await _read_back(keyed(database_url, new), dataset_id) == (SOURCE, signing)
    async with database(database_url):
        with pytest.raises(SecretsError, match="DOCC_SECRET_KEY"):
            async with secrets_at_rest(keyed(database_url, old)):
                pass
        assert set(await _sealed_tokens()).isdisjoint(old_tokens)
    raw = await raw_store(database_url)
    assert not any(token.encode() in raw for token in old_tokens)
    # and rotating again has nothing left to do
    assert await _rotate(database_url, new) == (0, "Re-encrypted 0 stored secret(s) with the first key; "
                                                   "the other keys can now be removed.\n")


def test_generate_secret_key_prints_a_usable_key(capsys):
    assert main(["generate-secret-key"]) == 0
    key = capsys.readouterr().out.strip()
    assert Settings.from_env({"DOCC_SECRET_KEY": key}).secret_keys == (key,)
