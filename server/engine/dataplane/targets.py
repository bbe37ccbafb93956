"""Where a data_sink step writes (`Target`), resolved from its config under the policy, without Polars.

The server resolves targets to take the destination leases of a job before it starts; the job's
process resolves them again and writes through sinks.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .connections import check_connection, mask_connection, parse_connection, split_table
from .errors import StepFailed
from .paths import resolve_path
from .policy import Policy
from .source_config import file_format, validate_source


@dataclass(frozen=True)
class Target:
    """Where a sink writes: a table behind a URL, or a file."""

    kind: str  # "table" or "file"
    mode: str
    url: str | None = None
    table: str | None = None
    path: str | None = None
    format: str | None = None
    options: dict[str, Any] | None = None
    named: bool = False  # An operator's DOCC_CONNECTION_<NAME>: roots and host allow-list do not apply.

    def describe(self) -> str:
        """A human label without secrets."""
        if self.kind == "file":
            return self.path or ""
        return f"{mask_connection(self.url or '')} table {self.table}"


def resolve_target(policy: Policy, config: dict[str, Any], step_id: str, connection: Callable[[str], str],
                   dataset: Callable[[str], tuple[dict[str, Any], dict[str, Any]]]) -> Target:
    """Turn a sink config into a Target, asking the resolver for names and applying the policy.

    Raises StepFailed, or DataPlaneConfigError when the policy refuses the destination.
    """
    mode = config.get("mode", "replace")
    if "path" in config:
        fmt = file_format(config, field="config")
        return Target("file", mode, path=resolve_path(policy, config["path"], field="config.path"), format=fmt)
    if "destination" in config:
        name, table = config["destination"].split(".", 1)
        try:
            url = connection(name)
        except Exception as exc:
            # The resolver's own message says the same thing: say it once, with the variable to set.
            raise StepFailed(step_id, f"unknown connection {name!r} (set DOCC_CONNECTION_{name.upper()})") \
                from exc
        conn = parse_connection(url, field=f"connection {name!r}")
        split_table(table, dialect=conn.dialect, field="destination")
        check_connection(policy, url, field="config.destination", named=True)
        return Target("table", mode, url=url, table=table, named=True)
    source, _schema = dataset(config["dataset_id"])
    validate_source(source, policy)
    if source["type"] == "database":
        return Target("table", mode, url=source["connection"], table=source["table"])
    return Target("file", mode, path=resolve_path(policy, source["path"], field="source.path"),
                  format=file_format(source), options=source.get("options"))
