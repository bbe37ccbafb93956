"""The GraphQL context: who asks, the request id, and this request's DataLoaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strawberry.dataloader import DataLoader
from strawberry.types import Info as StrawberryInfo

from resolvers import datasets, jobs, pipelines
from resolvers.principal import Principal


class Loaders:
    """DataLoaders for one request (or one subscription): results in key order, never shared."""

    def __init__(self, principal: Principal) -> None:
        async def load_datasets(keys: list[str]) -> list[Any]:
            return await datasets.get_datasets(principal, keys)

        self.dataset: DataLoader[str, Any] = DataLoader(load_fn=load_datasets)
        # A pipeline comes with its schedule and a job with its steps: those need no loader of their own.
        self.pipeline: DataLoader[str, Any] = DataLoader(
            load_fn=lambda keys: pipelines.get_pipelines(principal, list(keys)))
        self.job: DataLoader[str, Any] = DataLoader(load_fn=lambda keys: jobs.get_jobs(principal, list(keys)))


@dataclass
class Context:
    """Built once per HTTP request, once per websocket connection."""

    principal: Principal
    request_id: str
    request: Any = None
    response: Any = None
    connection_params: dict[str, Any] | None = None
    # The rate-limit key of a websocket's credential: each operation on the socket is charged to it.
    rate_key: str | None = None
    # The data plane's Policy of the serving app (checked when datasets and pipelines are saved). The edge
    # hands it in, so the schema knows neither the engine nor the data plane, and each app uses its own.
    policy: Any = None
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.principal)

    def fresh_loaders(self) -> Loaders:
        """Loaders for one subscription on a long-lived socket, so cached rows never go stale."""
        return Loaders(self.principal)


Info = StrawberryInfo[Context, None]
