"""/jobs: read, cancel, retry, wait for the end, and logs (stored pages, or followed live as NDJSON)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import httpx

from docc import routes
from docc._core import Answer, Call, Close, Emit, Flow, Items, Open, ReadLine, Sleep, decode_line, query
from docc.errors import ERRORS_BY_CODE, ConnectionFailed, DoccError, JobFailed, WaitTimeout
from docc.models.jobs import Job, JobAck, LogLine, LogPage
from docc.resources.base import R, Resource, listing, operation

RETRY_JOB = """mutation RetryJob($id: ID!, $fromFailedStep: Boolean!) {
  retryJob(id: $id, fromFailedStep: $fromFailedStep) {
    __typename ... on JobSuccess { jobId } ... on Error { code message }
  }
}"""


def _graphql_error(code: str, message: str, request_id: str | None) -> DoccError:
    cls = ERRORS_BY_CODE.get(code, DoccError)
    return cls(message or code, request_id=request_id, code=code)


class Jobs(Resource[R]):
    """`client.jobs`: read:jobs to read, run:pipelines to cancel and retry."""

    def bind(self, answer: Answer) -> Job | JobAck:
        """A job answer bound to this resource, so `job.wait()` and `job.logs()` use the same client."""
        if "pipeline_id" not in answer.body:
            return JobAck.model_validate(answer.body)
        return self.bind_body(answer.body)

    def bind_body(self, body: dict[str, Any]) -> Job:
        job = Job.model_validate(body)
        job._jobs = self
        return job

    def _rows(self, answer: Answer) -> list[Job]:
        return [self.bind_body(item) for item in answer.body["data"]]

    @listing
    def list(self, *, pipeline_id: str | None = None, status: str | None = None, trigger: str | None = None,
             created_after: datetime | None = None, created_before: datetime | None = None) -> Items[Job]:
        """Jobs, newest first, fetched page by page."""
        params = query(pipeline_id=pipeline_id, status=status, trigger=trigger, created_after=created_after,
                       created_before=created_before)
        return self._pages(routes.LIST_JOBS.call(self._rows, params=params))

    @operation
    def get(self, job_id: str) -> Flow[Job]:
        return self._get(job_id)

    def _get(self, job_id: str) -> Flow[Job]:
        return self._request(routes.GET_JOB.call(self.bind, id=job_id))  # type: ignore[arg-type]

    @operation
    def cancel(self, job_id: str) -> Flow[Job | JobAck]:
        """Cancel a pending or running job (Conflict when it has ended already)."""
        # Cancelling twice is cancelling once: safe to repeat after a lost connection.
        return self._request(routes.CANCEL_JOB.call(self.bind, id=job_id))

    @operation
    def retry(self, job_id: str, *, from_failed_step: bool = False) -> Flow[Job]:
        """A new job running the same pipeline version again (from its failed step on, if asked).

        REST has no retry route: this is GraphQL's `retryJob`, then the new job over REST."""
        call = Call("POST", "/graphql", lambda answer: answer.body,
                    json={"query": RETRY_JOB, "variables": {"id": job_id, "fromFailedStep": from_failed_step}})
        return self._retry(call)

    def _retry(self, call: Call[Any]) -> Flow[Job]:
        body = yield from self._request(call)
        # GraphQL answers 200 either way: a refusal is in `errors` or is the union's error member. Both
        # carry the same codes as the REST envelope, so they raise the same classes.
        if body.get("errors"):
            first = body["errors"][0]
            extensions = first.get("extensions") or {}
            raise _graphql_error(extensions.get("code", "BAD_REQUEST"), first.get("message", ""),
                                 extensions.get("request_id"))
        result = body["data"]["retryJob"]
        if result["__typename"] != "JobSuccess":
            raise _graphql_error(result.get("code", "CONFLICT"), result.get("message", ""), None)
        return (yield from self._get(result["jobId"]))

    @operation
    def wait(self, job_id: str, *, timeout: float | None = None, raise_on_failure: bool = False,
             poll: float = 0.5) -> Flow[Job]:
        """The job once it has ended. WaitTimeout past `timeout` seconds; JobFailed if it failed or was
        cancelled and `raise_on_failure`."""
        return self._wait(job_id, timeout, raise_on_failure, poll)

    def _wait(self, job_id: str, timeout: float | None, raise_on_failure: bool, poll: float) -> Flow[Job]:
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = min(0.1, poll)
        while True:
            job: Job = yield from self._get(job_id)
            if job.finished:
                if raise_on_failure and not job.succeeded:
                    raise JobFailed(f"Job {job.id} ended {job.status}: {job.error or ''}".rstrip(": "), job=job)
                return job
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeout(f"Job {job.id} is still {job.status} after {timeout} s", job=job)
            pause = delay if deadline is None else min(delay, max(deadline - time.monotonic(), 0.0))
            yield Sleep(pause)
            delay = min(delay * 2, poll)

    @operation
    def log_page(self, job_id: str, *, after: int | None = None, since: datetime | str | None = None,
                 tail: int | None = None, limit: int | None = None, level: str | None = None) -> Flow[LogPage]:
        """One page of stored lines, with `next_after` and whether the job has `finished`. `since`: a time or a
        duration back from now (`"30m"`); `level`: that level and above (`"warning"`)."""
        return self._log_page(job_id, after=after, since=since, tail=tail, limit=limit, level=level)

    def _log_page(self, job_id: str, *, after: int | None = None, since: datetime | str | None = None,
                  tail: int | None = None, limit: int | None = None, level: str | None = None) -> Flow[LogPage]:
        params = query(after=after, since=since, tail=tail, limit=limit, level=level)
        return self._request(routes.JOB_LOGS.call(lambda answer: LogPage.model_validate(answer.body),
                                                  params=params, id=job_id))

    @listing
    def logs(self, job_id: str, *, follow: bool = False, after: int | None = None, level: str | None = None,
             reconnects: int = 10) -> Items[LogLine]:
        """The job's log lines after `after`. With `follow`, the stored ones then the live ones until the job
        ends, reconnecting from the last line seen after a dropped connection (no gap, no duplicate); the
        stream's `result` is then the ended job. `level`: only lines of that level and above."""
        if follow:
            return Items(self._follow(job_id, after or 0, level, reconnects))
        return Items(self._stored(job_id, after, level))

    def _stored(self, job_id: str, after: int | None, level: str | None) -> Flow[None]:
        while True:
            page: LogPage = yield from self._log_page(job_id, after=after, limit=1000, level=level)
            for line in page.data:
                yield Emit(line)
            if not page.data or page.next_after is None or page.next_after == after:
                return None
            after = page.next_after

    def _follow(self, job_id: str, cursor: int, level: str | None, reconnects: int) -> Flow[Job | None]:
        failures = 0
        while True:
            call = routes.JOB_LOGS.call(lambda answer: answer, params=query(follow=True, after=cursor, level=level),
                                        headers={"Accept": "application/x-ndjson"}, id=job_id)
            try:
                handle = yield Open(call)
                while True:
                    raw = yield ReadLine(handle)
                    if raw is None:
                        break  # closed without an end message: reconnect from the cursor
                    message = decode_line(raw)
                    if message is None or message.get("type") == "keepalive":
                        continue
                    failures = 0
                    if message.get("type") == "end":
                        # Read to the end of the body, so the server finishes its answer before we hang up.
                        while (yield ReadLine(handle)) is not None:
                            pass
                        yield Close(handle)
                        return self.bind_body(message["job"])
                    if message.get("type") == "log":
                        line = LogLine.model_validate({k: v for k, v in message.items() if k != "type"})
                        if line.seq > cursor:  # a replay after a reconnect never repeats a line
                            cursor = line.seq
                            yield Emit(line)
                yield Close(handle)
            except httpx.TransportError as exc:
                if failures >= reconnects:
                    raise ConnectionFailed(f"Lost the log stream of {job_id}: {exc}") from exc
            failures += 1
            if failures > reconnects:
                raise ConnectionFailed(f"The log stream of {job_id} kept closing early")
            yield Sleep(self._runner.policy.delay(failures))
