"""Package exports loaded on first use.

The API process validates pipelines and sources with the light modules of the data plane (shapes,
names, bounds) and runs nothing; Polars, pyarrow, the ADBC drivers and sqlglot (about 70 MiB at rest)
load only when a module that needs them is first used, in the job processes or for a request whose
check really parses with them. A package's `__init__` therefore names where each export lives instead
of importing it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, exports: dict[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` for `package` that imports `name` from its submodule `exports[name]` when first read."""

    def __getattr__(name: str) -> Any:
        where = exports.get(name)
        if where is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{where}"), name)
        setattr(sys.modules[package], name, value)  # Read once: later reads skip this function.
        return value

    return __getattr__
