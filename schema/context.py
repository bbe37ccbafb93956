"""The GraphQL context: who asks, the request id, and this request's DataLoaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strawberry.dataloader import DataLoader
from strawberry.types import Info as StrawberryInfo

from resolvers import datasets, jobs, pipelines
from resolvers.nested_pages import PageKey
from resolvers.principal import Principal
from resolvers.quality import rules as quality_rules
from resolvers.quality import runs as quality_runs


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
        # Keyed by dataset id: each dataset's rules, and the newest finished result of each of them.
        self.quality_rules: DataLoader[str, Any] = DataLoader(
            load_fn=lambda keys: quality_rules.rules_of_datasets(principal, list(keys)))
        self.latest_quality_results: DataLoader[str, Any] = DataLoader(
            load_fn=lambda keys: quality_runs.latest_results_of_datasets(principal, list(keys)))
        # Keyed by (parent id, page request): a page of each parent's nested connection, all in one statement.
        self.schema_history: DataLoader[PageKey, Any] = DataLoader(
            load_fn=lambda keys: datasets.schema_histories(principal, list(keys)))
        self.pipeline_versions: DataLoader[PageKey, Any] = DataLoader(
            load_fn=lambda keys: pipelines.versions_of_pipelines(principal, list(keys)))
        self.pipeline_jobs: DataLoader[PageKey, Any] = DataLoader(
            load_fn=lambda keys: jobs.jobs_of_pipelines(principal, list(keys)))


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
