"""The job feed subscription: every job of the workspace created, changed or finished, resumable."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry

from resolvers import job_events as domain
from resolvers.jobs import READ
from resolvers.views.job_events import JobEventView
from schema.context import Info
from schema.enums import domain_enum
from schema.permissions import needs
from schema.pipelines import JobStatus
from schema.quality import QualityResultStatus

JobEventKind = domain_enum("JobEventKind", domain.EVENT_KINDS,
                           "created: queued; changed: status, progress or a step moved; finished: it ended; "
                           "rule_started / rule_finished: a quality rule's run was queued / ended.")


@strawberry.input(description="Which feed events to deliver; every given criterion must hold.")
class JobEventFilter:
    pipeline_id: strawberry.ID | None = strawberry.field(default=None, description="Jobs of this pipeline.")
    status: JobStatus | None = strawberry.field(default=None, description="Events leaving the job in this state.")


@strawberry.type(description="A job of your workspace was created, changed or finished, or a quality rule's run "
                             "started or finished.")
class JobEvent:
    cursor: int = strawberry.field(description="Pass as `after` to resume the feed after this event.")
    kind: JobEventKind = strawberry.field(description="What happened.")
    job_id: strawberry.ID | None = strawberry.field(
        description="The job (for a rule's run: the job whose quality_check step ran it, else null).")
    pipeline_id: strawberry.ID | None = strawberry.field(description="The job's pipeline (null as jobId is).")
    status: JobStatus | None = strawberry.field(
        description="The job's status after the event (null for a rule's run: see ruleStatus).")
    percent_complete: float | None = strawberry.field(
        description="The job's progress after the event, in percent (null for a rule's run).")
    step_id: str | None = strawberry.field(description="The step whose status changed, if that is the event.")
    step_status: str | None = strawberry.field(description="That step's new status (as a step's `status`).")
    rule_id: strawberry.ID | None = strawberry.field(description="The quality rule whose run this is, if one.")
    result_id: strawberry.ID | None = strawberry.field(description="That run's result.")
    rule_status: QualityResultStatus | None = strawberry.field(
        description="The result's status: running, then passed, failed, error or cancelled.")
    time: datetime = strawberry.field(description="When the change was stored.")

    @classmethod
    def from_view(cls, view: JobEventView) -> JobEvent:
        return cls(cursor=view.cursor, kind=JobEventKind(view.kind),
                   job_id=strawberry.ID(view.job_id) if view.job_id else None,
                   pipeline_id=strawberry.ID(view.pipeline_id) if view.pipeline_id else None,
                   status=JobStatus(view.status) if view.status else None,
                   percent_complete=view.percent_complete, step_id=view.step_id, step_status=view.step_status,
                   rule_id=strawberry.ID(view.rule_id) if view.rule_id else None,
                   result_id=strawberry.ID(view.result_id) if view.result_id else None,
                   rule_status=QualityResultStatus(view.rule_status) if view.rule_status else None,
                   time=view.time)


@strawberry.type
class JobEventSubscription:
    @strawberry.subscription(extensions=needs(READ),
                             description="Every job of your workspace created, changed or finished: the stored "
                                         "events after `after` (omit it: from now on), then live ones; never ends.")
    async def job_events(self, info: Info, filter: JobEventFilter | None = None,
                         after: int | None = None) -> AsyncGenerator[JobEvent, None]:
        given = filter or JobEventFilter()
        wanted = domain.EventFilter(pipeline_id=str(given.pipeline_id) if given.pipeline_id else None,
                                    status=given.status.value if given.status else None)
        stream = await domain.follow_events(info.context.principal, wanted, after)
        try:
            async for view in stream:
                yield JobEvent.from_view(view)
        finally:
            await stream.aclose()
