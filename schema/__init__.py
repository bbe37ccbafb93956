"""The GraphQL schema: the roots merge each domain's queries, mutations and subscriptions."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig

from schema.access import AccessMutation, AccessQuery
from schema.dataset_operations import DatasetMutation, DatasetQuery
from schema.error_types import EXCEPTION_HANDLERS, Error
from schema.extensions import DoccSchema, ErrorCodes, ErrorCodesWithoutSuggestions
from schema.job_events import JobEventSubscription
from schema.job_operations import JobMutation, JobQuery, JobSubscription
from schema.pipeline_operations import PipelineMutation, PipelineQuery
from schema.scope_check import CheckScopesFirst

QUERIES: tuple[type, ...] = (DatasetQuery, PipelineQuery, JobQuery, AccessQuery)
MUTATIONS: tuple[type, ...] = (DatasetMutation, PipelineMutation, JobMutation, AccessMutation)
SUBSCRIPTIONS: tuple[type, ...] = (JobSubscription, JobEventSubscription)


@strawberry.type(description="Read operations.")
class Query(*QUERIES):  # type: ignore[misc]
    pass


@strawberry.type(description="Write operations; each returns a union of its success and its errors.")
class Mutation(*MUTATIONS):  # type: ignore[misc]
    pass


def build_schema(max_depth: int = 12, max_aliases: int = 30, max_tokens: int = 5_000,
                 introspection: bool = True, suggestions: bool = True, max_batch: int = 10) -> DoccSchema:
    """The schema with its request bounds and caches."""
    extensions: list[Any] = [
        lambda: QueryDepthLimiter(max_depth=max_depth),
        lambda: MaxAliasesLimiter(max_alias_count=max_aliases),
        lambda: MaxTokensLimiter(max_token_count=max_tokens),
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
        ErrorCodes if suggestions else ErrorCodesWithoutSuggestions,
        CheckScopesFirst,
    ]
    if not introspection:
        extensions.append(lambda: AddValidationRules([NoSchemaIntrospectionCustomRule]))
    subscription = None
    if SUBSCRIPTIONS:
        subscription = strawberry.type(type("Subscription", SUBSCRIPTIONS, {}),
                                       description="Live streams over websocket.")
    return DoccSchema(query=Query, mutation=Mutation, subscription=subscription, types=[Error],
                      extensions=extensions, exception_handlers=EXCEPTION_HANDLERS,
                      config=StrawberryConfig(batching_config={"max_operations": max_batch}))
