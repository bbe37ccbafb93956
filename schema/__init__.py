"""The GraphQL schema: the roots merge each domain's queries, mutations and subscriptions."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.schema.config import StrawberryConfig

from schema.access import AccessMutation, AccessQuery
from schema.dataset_operations import DatasetMutation, DatasetQuery
from schema.error_types import EXCEPTION_HANDLERS, Error
from schema.execution import PlainFieldsExecutionContext
from schema.extensions import DoccSchema, ErrorCodes, ErrorCodesWithoutSuggestions
from schema.job_events import JobEventSubscription
from schema.job_operations import JobMutation, JobQuery, JobSubscription
from schema.pipeline_operations import PipelineMutation, PipelineQuery
from schema.quality_operations import QualityMutation, QualityQuery, QualitySubscription
from schema.scope_check import CheckScopesFirst

QUERIES: tuple[type, ...] = (DatasetQuery, PipelineQuery, JobQuery, AccessQuery, QualityQuery)
MUTATIONS: tuple[type, ...] = (DatasetMutation, PipelineMutation, JobMutation, AccessMutation, QualityMutation)
SUBSCRIPTIONS: tuple[type, ...] = (JobSubscription, JobEventSubscription, QualitySubscription)


@strawberry.type(description="Read operations.")
class Query(*QUERIES):  # type: ignore[misc]
    pass


@strawberry.type(description="Write operations; each returns a union of its success and its errors.")
class Mutation(*MUTATIONS):  # type: ignore[misc]
    pass


def build_schema(max_depth: int = 12, max_aliases: int = 30, max_tokens: int = 5_000,
                 introspection: bool = True, suggestions: bool = True, max_batch: int = 10) -> DoccSchema:
    """The schema with its request bounds and caches."""
    # The rule classes are made once: the validation cache is keyed by (schema, document, rules), and
    # QueryDepthLimiter/MaxAliasesLimiter made new classes for every request, so it never hit.
    rules: list[Any] = [depth_rule(max_depth, None), aliases_rule(max_aliases)]
    if not introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    extensions: list[Any] = [
        lambda: AddValidationRules(rules),
        lambda: MaxTokensLimiter(max_token_count=max_tokens),
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
        ErrorCodes if suggestions else ErrorCodesWithoutSuggestions,
        CheckScopesFirst,
    ]
    subscription = None
    if SUBSCRIPTIONS:
        subscription = strawberry.type(type("Subscription", SUBSCRIPTIONS, {}),
                                       description="Live streams over websocket.")
    return DoccSchema(query=Query, mutation=Mutation, subscription=subscription, types=[Error],
                      extensions=extensions, exception_handlers=EXCEPTION_HANDLERS,
                      execution_context_class=PlainFieldsExecutionContext,
                      config=StrawberryConfig(batching_config={"max_operations": max_batch}))
