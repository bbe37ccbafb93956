"""Ready-made resolvers: plain mappings of datasets and connections, and connections from the environment."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class MappingResolver:
    """A Resolver over plain dicts (tests, tools, and callers that resolved everything up front)."""

    datasets: dict[str, tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=dict)
    connections: dict[str, str] = field(default_factory=dict)

    def dataset(self, dataset_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The dataset's source and schema; raises LookupError."""
        if dataset_id not in self.datasets:
            raise LookupError(f"unknown dataset {dataset_id!r}")
        return self.datasets[dataset_id]

    def connection(self, name: str) -> str:
        """The URL of a named connection; raises LookupError."""
        if name not in self.connections:
            raise LookupError(f"unknown connection {name!r}")
        return self.connections[name]

