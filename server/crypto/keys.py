"""The keys that encrypt secrets at rest: where they come from, the key file, and the keyring in use.

Keys never live in the database. They come from DOCC_SECRET_KEY (comma-separated Fernet keys) or from a
key file (DOCC_SECRET_KEY_FILE, by default beside the SQLite database or ./docc.key for PostgreSQL) that
the server creates with mode 0600 on first start. The first key encrypts; every key decrypts, so an
operator rotates by putting a new key first and running `docc-server rotate-secrets`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from server.config import Settings, is_fernet_key

KEY_FILE_NAME = "docc.key"
DECRYPTED_CACHE_SIZE = 10_000


class SecretsError(RuntimeError):
    """The secrets at rest cannot be used: a missing, unreadable, unsafe or wrong key."""


class Keyring:
    """Fernet keys, the first of which encrypts; `origin` names the setting they came from."""

    def __init__(self, keys: tuple[str, ...], origin: str) -> None:
        if not keys:
            raise SecretsError(f"{origin} holds no key")
        self.keys, self.origin = keys, origin
        self._primary = Fernet(keys[0])
        self._multi = MultiFernet([Fernet(key) for key in keys])
        # Decrypting costs ~50 µs a value, more than the rest of a row's hydration: a list of 100 datasets
        # would pay it on every read. A token never changes its plaintext, so a bounded cache is exact.
        self._plain: dict[str, str] = {}

    def encrypt(self, plaintext: str) -> str:
        """A Fernet token of `plaintext`, made with the first key."""
        return self._primary.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        """The plaintext of a token made with any of the keys; raises SecretsError naming the setting."""
        cached = self._plain.get(token)
        if cached is not None:
            return cached
        try:
            plaintext = self._multi.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            raise SecretsError(f"A stored secret cannot be decrypted with the keys of {self.origin}") from None
        if len(self._plain) >= DECRYPTED_CACHE_SIZE:
            self._plain.pop(next(iter(self._plain)))  # the oldest entry: dicts keep insertion order
        self._plain[token] = plaintext
        return plaintext

    def is_current(self, token: str) -> bool:
        """True when the first key alone decrypts the token (nothing left to rotate)."""
        try:
            self._primary.decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeError):
            return False
        return True

    @classmethod
    def generate(cls, origin: str = "a generated key") -> Keyring:
        """A keyring of one new random key."""
        return cls((Fernet.generate_key().decode("ascii"),), origin)


def _sqlite_file(database_url: str) -> str | None:
    """The file of an SQLite database URL, or None for PostgreSQL and in-memory databases."""
    parts = urlsplit(database_url)
    if parts.scheme != "sqlite":
        return None
    path = database_url[len("sqlite://"):].split("?", 1)[0]
    return None if path in ("", ":memory:") else path


def secret_key_path(settings: Settings) -> Path | None:
    """The key file the server reads (and creates), or None when the keys are given in DOCC_SECRET_KEY.

    The data plane must never read this file: it belongs on the list of protected paths.
    """
    if settings.secret_keys:
        return None
    if settings.secret_key_file:
        return Path(settings.secret_key_file).absolute()
    database_url = settings.database_url
    if database_url.startswith("sqlite://"):
        database_file = _sqlite_file(database_url)
        if database_file is None:
            return None  # an in-memory database keeps nothing at rest: its key need not outlive it
        return Path(database_file).absolute().with_name(KEY_FILE_NAME)
    return Path(KEY_FILE_NAME).absolute()


def _origin(settings: Settings, path: Path | None) -> str:
    if settings.secret_keys:
        return "DOCC_SECRET_KEY"
    return f"the key file {path} (DOCC_SECRET_KEY_FILE)"


def parse_key_file(text: str, path: Path) -> tuple[str, ...]:
    """Keys one a line (or comma-separated), first first; `#` starts a comment; raises SecretsError."""
    keys: list[str] = []
    for line in text.splitlines():
        content = line.split("#", 1)[0]
        keys.extend(part.strip() for part in content.split(",") if part.strip())
    for position, key in enumerate(keys, start=1):
        if not is_fernet_key(key):
            raise SecretsError(f"Key {position} in the key file {path} (DOCC_SECRET_KEY_FILE) is not a Fernet key")
    if not keys:
        raise SecretsError(f"The key file {path} (DOCC_SECRET_KEY_FILE) holds no key")
    return tuple(keys)


def _check_private(path: Path) -> None:
    # A key that other users can read protects nothing: refuse rather than warn, the fix is one chmod.
    if os.name != "posix":
        return
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretsError(f"The key file {path} (DOCC_SECRET_KEY_FILE) is accessible to other users "
                           f"(mode {stat.S_IMODE(mode):04o}); run `chmod 600 {path}` and start again")


def read_key_file(path: Path) -> tuple[str, ...]:
    """The keys of an existing key file, refused when group- or world-accessible; raises SecretsError."""
    _check_private(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SecretsError(f"The key file {path} (DOCC_SECRET_KEY_FILE) cannot be read: {exc.strerror}") from None
    return parse_key_file(text, path)


def create_key_file(path: Path) -> tuple[str, ...]:
    """Write a new key file with mode 0600, atomically; if another process won the race, read its file."""
    key = Fernet.generate_key().decode("ascii")
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise SecretsError(f"The key file {path} (DOCC_SECRET_KEY_FILE) cannot be created: {exc.strerror}") from None
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(f"{key}\n")
            handle.flush()
            os.fsync(handle.fileno())
        # link() never replaces: a file that appeared meanwhile (another replica) wins and is read instead.
        os.link(temporary, path)
    except FileExistsError:
        return read_key_file(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    return (key,)


def load_keyring(settings: Settings, may_create: bool) -> tuple[Keyring, bool]:
    """The keyring of the settings and whether its key file was created now; raises SecretsError.

    `may_create` is False when the database already holds encrypted secrets: a new key could never
    decrypt them, so a missing key file is an error (restore it from the backup), not a fresh start.
    """
    path = secret_key_path(settings)
    origin = _origin(settings, path)
    if settings.secret_keys:
        return Keyring(settings.secret_keys, origin), False
    if path is None:
        return Keyring.generate("an in-memory database's temporary key"), False
    if path.exists():
        return Keyring(read_key_file(path), origin), False
    if not may_create:
        raise SecretsError(f"The database holds encrypted secrets but the key file {path} does not exist: "
                           "restore it from your backup, or set DOCC_SECRET_KEY or DOCC_SECRET_KEY_FILE "
                           "to the key the secrets were encrypted with")
    return Keyring(create_key_file(path), origin), True


_active: list[Keyring] = []


def active_keyring() -> Keyring:
    """The keyring of the open database; raises SecretsError when none is loaded."""
    if not _active:
        raise SecretsError("No secret key is loaded: open the database with secrets_at_rest(settings)")
    return _active[-1]


@contextlib.contextmanager
def use_keyring(keyring: Keyring) -> Iterator[Keyring]:
    """Make `keyring` the one that seals and unseals stored secrets for the lifetime of the block."""
    # A process-wide stack, like Tortoise's own connection state: request handlers run in tasks that
    # do not inherit the start-up task's context, so a context variable would not reach them.
    _active.append(keyring)
    try:
        yield keyring
    finally:
        # Identity, not equality: the same keys may be loaded twice by nested blocks.
        del _active[next(i for i in range(len(_active) - 1, -1, -1) if _active[i] is keyring)]
