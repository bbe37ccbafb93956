"""Quality queries, mutations and the results subscription: parse, call one resolver, shape the result."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from resolvers.errors import NotFound
from resolvers.quality import profiles, runs
from resolvers.quality import rules as domain
from resolvers.validation import parse
from schema.context import Info
from schema.pagination import Connection, connection, page_request
from schema.permissions import needs
from schema.quality import (
    CancelProfileResult,
    CreateQualityRuleInput,
    DatasetProfile,
    DatasetProfileSuccess,
    DeleteQualityRuleResult,
    DeleteQualityRuleSuccess,
    ProfileDatasetResult,
    QualityResult,
    QualityResultFilter,
    QualityRule,
    QualityRuleFilter,
    QualityRuleResult,
    QualityRuleSuccess,
    QualityRunResult,
    QualityRunSuccess,
    UpdateQualityRuleInput,
    input_dict,
)


@strawberry.type
class QualityQuery:
    @strawberry.field(extensions=needs(domain.READ), description="One quality rule, or null if not in your workspace.")
    async def quality_rule(self, info: Info, id: strawberry.ID) -> QualityRule | None:
        try:
            return QualityRule.from_view(await domain.get_rule(info.context.principal, str(id)))
        except NotFound:
            return None

    @strawberry.field(extensions=needs(domain.READ), description="Quality rules of your workspace, newest first.")
    async def quality_rules(self, info: Info, first: int = 20, after: str | None = None,
                            filter: QualityRuleFilter | None = None) -> Connection[QualityRule]:
        wanted = input_dict(filter) if filter is not None else {}
        filters = domain.QualityRuleFilter(**wanted)
        page = await domain.list_rules(info.context.principal, filters, page_request(first, after))
        return connection(page, QualityRule.from_view)

    @strawberry.field(extensions=needs(domain.READ), description="One result, or null if not in your workspace.")
    async def quality_result(self, info: Info, id: strawberry.ID) -> QualityResult | None:
        try:
            return QualityResult.from_view(await runs.get_result(info.context.principal, str(id)))
        except NotFound:
            return None

    @strawberry.field(extensions=needs(domain.READ), description="A rule's results, newest first.")
    async def quality_results(self, info: Info, rule_id: strawberry.ID, first: int = 20, after: str | None = None,
                              filter: QualityResultFilter | None = None) -> Connection[QualityResult]:
        filters = runs.ResultFilter(**(input_dict(filter) if filter is not None else {}))
        page = await runs.list_results(info.context.principal, str(rule_id), filters, page_request(first, after))
        return connection(page, QualityResult.from_view)

    @strawberry.field(extensions=needs(domain.READ_DATA),
                      description="The dataset's latest finished profile, or null if never profiled here.")
    async def dataset_profile(self, info: Info, dataset_id: strawberry.ID) -> DatasetProfile | None:
        try:
            return DatasetProfile.from_view(await profiles.latest_profile(info.context.principal, str(dataset_id)))
        except NotFound:
            return None

    @strawberry.field(extensions=needs(domain.READ_DATA),
                      description="One profile run (running or finished), or null if not in your workspace.")
    async def profile_run(self, info: Info, id: strawberry.ID) -> DatasetProfile | None:
        try:
            return DatasetProfile.from_view(await profiles.get_profile(info.context.principal, str(id)))
        except NotFound:
            return None


@strawberry.type
class QualityMutation:
    @strawberry.mutation(extensions=needs(domain.WRITE),
                         description="Create a quality rule on a dataset (needs read:datasets too).")
    async def create_quality_rule(self, info: Info, input: CreateQualityRuleInput) -> QualityRuleResult:
        spec = parse(domain.QualityRuleCreate, input_dict(input), "quality rule")
        return QualityRuleSuccess.from_view(await domain.create_rule(info.context.principal, spec))

    @strawberry.mutation(extensions=needs(domain.WRITE), description="Change a quality rule.")
    async def update_quality_rule(self, info: Info, id: strawberry.ID,
                                  input: UpdateQualityRuleInput) -> QualityRuleResult:
        spec = parse(domain.QualityRuleUpdate, input_dict(input), "quality rule")
        return QualityRuleSuccess.from_view(await domain.update_rule(info.context.principal, str(id), spec))

    @strawberry.mutation(extensions=needs(domain.WRITE), description="Enable a quality rule.")
    async def enable_quality_rule(self, info: Info, id: strawberry.ID) -> QualityRuleResult:
        return QualityRuleSuccess.from_view(await domain.set_enabled(info.context.principal, str(id), True))

    @strawberry.mutation(extensions=needs(domain.WRITE), description="Disable a quality rule.")
    async def disable_quality_rule(self, info: Info, id: strawberry.ID) -> QualityRuleResult:
        return QualityRuleSuccess.from_view(await domain.set_enabled(info.context.principal, str(id), False))

    @strawberry.mutation(extensions=needs(domain.WRITE), description="Delete a quality rule and its results.")
    async def delete_quality_rule(self, info: Info, id: strawberry.ID) -> DeleteQualityRuleResult:
        await domain.delete_rule(info.context.principal, str(id))
        return DeleteQualityRuleSuccess(rule_id=id)

    @strawberry.mutation(extensions=needs(domain.WRITE),
                         description="Run a quality rule now in the job workers; the result is running until it lands.")
    async def run_quality_rule(self, info: Info, id: strawberry.ID) -> QualityRunResult:
        return QualityRunSuccess.from_view(await runs.run_rule(info.context.principal, str(id)))

    @strawberry.mutation(extensions=needs(domain.WRITE), description="Cancel a running quality check.")
    async def cancel_quality_run(self, info: Info, result_id: strawberry.ID) -> QualityRunResult:
        return QualityRunSuccess.from_view(await runs.cancel_run(info.context.principal, str(result_id)))

    @strawberry.mutation(extensions=needs(domain.WRITE),
                         description="Profile a dataset's data in the job workers (needs read:datasets too); "
                                     "`waitSeconds` waits up to that long (at most 60) for the end.")
    async def profile_dataset(self, info: Info, dataset_id: strawberry.ID,
                              wait_seconds: int = 0) -> ProfileDatasetResult:
        principal = info.context.principal
        profile = await profiles.profile_dataset(principal, str(dataset_id))
        if wait_seconds > 0:
            profile = await profiles.wait_profile(principal, profile.id, wait_seconds)
        return DatasetProfileSuccess(profile=DatasetProfile.from_view(profile))

    @strawberry.mutation(extensions=needs(domain.WRITE),
                         description="Cancel a running profile (needs read:datasets too).")
    async def cancel_profile(self, info: Info, profile_id: strawberry.ID) -> CancelProfileResult:
        return DatasetProfileSuccess(profile=DatasetProfile.from_view(
            await profiles.cancel_profile(info.context.principal, str(profile_id))))


@strawberry.type
class QualitySubscription:
    @strawberry.subscription(extensions=needs(domain.READ),
                             description="Each result of the rule as it lands (passed, failed, error, cancelled).")
    async def quality_results(self, info: Info, rule_id: strawberry.ID) -> AsyncGenerator[QualityResult, None]:
        stream = runs.rule_results(info.context.principal, str(rule_id))
        try:
            async for result in stream:
                yield QualityResult.from_view(result)
        finally:
            await stream.aclose()
