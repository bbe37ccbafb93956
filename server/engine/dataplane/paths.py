"""The one path resolver: every file source, file sink and SQLite database path goes through it.

A path is made absolute (relative to the working directory), its symlinks and `..` are resolved, and
the result must lie inside one of the policy's file roots (DOCC_FILE_ROOTS, by default DOCC_DATA_DIR)
and must not be one of the server's own files: compared by realpath, and by device and inode when
the file exists, so a hard link or a second spelling of the database is the database. The check runs
when a dataset or pipeline is saved and again when a job opens the file, so a root removed later or a
symlink planted later is caught.
"""

from __future__ import annotations

import os

from .errors import DataPlaneConfigError
from .policy import Policy

OUTSIDE_ROOTS = "Outside the allowed file roots (DOCC_FILE_ROOTS)"
PROTECTED = "The server's own files cannot be used"
NOT_A_FILE = "Must name a file inside a file root, not a directory"
MAX_PATH = 4096
MAX_NAME = 255  # NAME_MAX of the usual file systems, in bytes


def _refuse(field: str, reason: str, message: str) -> DataPlaneConfigError:
    return DataPlaneConfigError(f"{field}: {message}", field=field, reason=reason)


def _inside(real: str, root: str) -> bool:
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def _identity(path: str) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except (OSError, ValueError):
        return None
    return stat.st_dev, stat.st_ino


def is_protected(policy: Policy, real: str) -> bool:
    """True when `real` is one of the server's own files, however spelled (realpath, device and inode)."""
    if not policy.protected_paths:
        return False
    if real in policy.protected_paths or any(real == os.path.realpath(p) for p in policy.protected_paths):
        return True
    mine = _identity(real)
    return mine is not None and any(_identity(p) == mine for p in policy.protected_paths)


def check_not_protected(policy: Policy, path: str, *, field: str) -> str:
    """Refuse one of the server's own files (without applying the roots); returns the real path."""
    real = _real(path, field)
    if is_protected(policy, real):
        raise _refuse(field, PROTECTED, "this path is one of the server's own files (its database or keys)")
    return real


def _real(path: str, field: str) -> str:
    if not isinstance(path, str) or not path or "\x00" in path or len(path) > MAX_PATH:
        raise _refuse(field, "Invalid file path", "a file path is required")
    try:
        too_long = any(len(part.encode()) > MAX_NAME for part in path.split(os.sep))
    except UnicodeEncodeError:
        too_long = True  # a lone surrogate cannot name a file
    if too_long:
        raise _refuse(field, "Invalid file path", f"a path component is longer than {MAX_NAME} bytes")
    return os.path.realpath(os.path.abspath(path))


def resolve_path(policy: Policy, path: str, *, field: str) -> str:
    """The real path of `path` if the policy allows it; raises DataPlaneConfigError naming `field`."""
    real = _real(path, field)
    if not any(_inside(real, root) for root in policy.file_roots):
        raise _refuse(field, OUTSIDE_ROOTS, f"{path!r} is outside the allowed file roots")
    # A sink stages beside its target: a root (or any directory) as the target would stage in its
    # parent, outside the roots, and publishing onto a directory can never succeed.
    if path.endswith(os.sep) or real in policy.file_roots or os.path.isdir(real):
        raise _refuse(field, NOT_A_FILE, f"{path!r} is a directory")
    return check_not_protected(policy, real, field=field)
