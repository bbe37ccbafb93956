"""Where file sources and sinks may live: the process's allowed roots (DOCC_FILE_ROOTS).

Without roots every absolute path is allowed (a single-user install). With roots, a path must
resolve (symlinks followed) inside one of them; the check runs when a dataset or pipeline is saved
and again when a job opens the file, so a root removed later, or a symlink planted later, is caught.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from .errors import DataPlaneConfigError

_roots: tuple[str, ...] = ()


def set_file_roots(roots: Iterable[str]) -> None:
    """Set the allowed roots of this process (the app factory and the worker call it from settings)."""
    global _roots
    _roots = tuple(os.path.realpath(root) for root in roots if root)


def file_roots() -> tuple[str, ...]:
    """The allowed roots; empty means unrestricted."""
    return _roots


def check_path(path: str, *, field: str) -> None:
    """Raise DataPlaneConfigError unless `path` resolves inside an allowed root."""
    if not _roots:
        return
    real = os.path.realpath(path)
    if not any(real == root or real.startswith(root.rstrip(os.sep) + os.sep) for root in _roots):
        raise DataPlaneConfigError(f"{field}: {path!r} is outside the allowed file roots", field=field,
                                   reason="Outside the allowed file roots (DOCC_FILE_ROOTS)")
