"""/pipelines: CRUD, versions, runs and schedules."""

from __future__ import annotations

import uuid
from typing import Any

from docc import routes
from docc._core import Answer, Flow, Items, query
from docc.models.jobs import Job, JobAck
from docc.models.pipelines import (
    Pipeline,
    PipelineAck,
    PipelineCreate,
    PipelineUpdate,
    PipelineVersion,
    Schedule,
    ScheduleAck,
    ScheduleSpec,
)
from docc.resources.base import R, Resource, body_of, listing, nothing, operation, rows
from docc.resources.jobs import Jobs


def _pipeline(answer: Answer) -> Pipeline | PipelineAck:
    if "name" not in answer.body:
        return PipelineAck.model_validate(answer.body)
    pipeline = Pipeline.model_validate(answer.body)
    pipeline._etag = answer.headers.get("ETag")
    return pipeline


def _schedule(answer: Answer) -> Schedule | Pipeline | PipelineAck | ScheduleAck:
    # Older servers answer the schedule, newer ones the pipeline carrying it; a write-only key an ack.
    body = answer.body
    if "cron" in body:
        return Schedule.model_validate(body)
    if "steps" in body:
        return _pipeline(answer)
    return ScheduleAck.model_validate(body)


class Pipelines(Resource[R]):
    """`client.pipelines`: read:pipelines, write:pipelines to change, run:pipelines to run."""

    def __init__(self, runner: R, jobs: Jobs[R]) -> None:
        super().__init__(runner)
        self._jobs = jobs

    @listing
    def list(self, *, name: str | None = None, scheduled: bool | None = None,
             dataset_id: str | None = None) -> Items[Pipeline]:
        params = query(name=name, scheduled=scheduled, dataset_id=dataset_id)
        return self._pages(routes.LIST_PIPELINES.call(rows(Pipeline.model_validate), params=params))

    @operation
    def get(self, pipeline_id: str) -> Flow[Pipeline]:
        return self._request(routes.GET_PIPELINE.call(_pipeline, id=pipeline_id))  # type: ignore[arg-type]

    @operation
    def create(self, spec: PipelineCreate | dict[str, Any] | None = None, **fields: Any
               ) -> Flow[Pipeline | PipelineAck]:
        """Create from a `PipelineCreate`, a dict or keyword arguments (`name=`, `steps=`, `schedule=`)."""
        return self._request(routes.CREATE_PIPELINE.call(_pipeline, json=body_of(PipelineCreate, spec, fields)))

    @operation
    def update(self, pipeline_id: str, spec: PipelineUpdate | dict[str, Any] | None = None, *,
               if_match: str | None = None, **fields: Any) -> Flow[Pipeline | PipelineAck]:
        """Save a new version; `schedule=None` removes the schedule; `if_match=pipeline.etag` refuses a stale
        write (PreconditionFailed)."""
        headers = {"If-Match": if_match} if if_match else {}
        return self._request(routes.UPDATE_PIPELINE.call(_pipeline, json=body_of(PipelineUpdate, spec, fields),
                                                         headers=headers, id=pipeline_id))

    @operation
    def delete(self, pipeline_id: str) -> Flow[None]:
        return self._request(routes.DELETE_PIPELINE.call(nothing, id=pipeline_id))

    @listing
    def versions(self, pipeline_id: str) -> Items[PipelineVersion]:
        """Saved versions, newest first."""
        return self._pages(routes.PIPELINE_VERSIONS.call(rows(PipelineVersion.model_validate), id=pipeline_id))

    @operation
    def run(self, pipeline_id: str, *, idempotency_key: str | None = None) -> Flow[Job | JobAck]:
        """Queue a job and answer it at once (`job.wait()`, `job.logs(follow=True)`).

        Every run carries an `Idempotency-Key` (a new one unless given), so a retry after a lost connection
        answers the same job instead of starting a second one."""
        key = idempotency_key or f"sdk-{uuid.uuid4().hex}"
        return self._request(routes.RUN_PIPELINE.call(self._jobs.bind, headers={"Idempotency-Key": key},
                                                      id=pipeline_id))

    @operation
    def schedule(self, pipeline_id: str, cron: str, *, timezone: str = "UTC", paused: bool = False
                 ) -> Flow[Schedule | Pipeline | PipelineAck | ScheduleAck]:
        """Set or replace the schedule (a five- or six-field cron in an IANA time zone)."""
        body = ScheduleSpec(cron=cron, timezone=timezone, paused=paused).model_dump(mode="json")
        return self._request(routes.SET_SCHEDULE.call(_schedule, json=body, id=pipeline_id))

    @operation
    def pause_schedule(self, pipeline_id: str) -> Flow[Schedule | Pipeline | PipelineAck | ScheduleAck]:
        return self._request(routes.PAUSE_SCHEDULE.call(_schedule, id=pipeline_id))

    @operation
    def resume_schedule(self, pipeline_id: str) -> Flow[Schedule | Pipeline | PipelineAck | ScheduleAck]:
        return self._request(routes.RESUME_SCHEDULE.call(_schedule, id=pipeline_id))

    @operation
    def remove_schedule(self, pipeline_id: str) -> Flow[None]:
        return self._request(routes.REMOVE_SCHEDULE.call(nothing, id=pipeline_id))
