"""/events: the workspace's job feed, followed as NDJSON and resumed from its cursor after a dropped
connection."""

from __future__ import annotations

import httpx

from docc import routes
from docc._core import Close, Emit, Flow, Items, Open, ReadLine, Sleep, decode_line, query
from docc.errors import ConnectionFailed
from docc.models.events import JobEvent
from docc.resources.base import R, Resource, listing


class Events(Resource[R]):
    """`client.events`: read:jobs."""

    @listing
    def follow(self, *, after: int | None = None, pipeline_id: str | None = None, status: str | None = None,
               reconnects: int = 10) -> Items[JobEvent]:
        """The feed's events after the cursor `after` (`0`: from the first one kept; None: only what happens
        from now on), then live ones, forever: stop by leaving the loop (or `close()`).

        `pipeline_id` and `status` keep the events of that pipeline, or those leaving the job in that status.
        After a dropped connection it reconnects with `after=` the last cursor it got, so no event is lost or
        repeated; before the first event a reconnect can only ask for "from now on" again, unless `after` was
        given. ConnectionFailed after `reconnects` failures in a row."""
        return Items(self._follow(after, pipeline_id, status, reconnects))

    def _follow(self, cursor: int | None, pipeline_id: str | None, status: str | None,
                reconnects: int) -> Flow[None]:
        failures = 0
        while True:
            call = routes.EVENTS.call(lambda answer: answer,
                                      params=query(after=cursor, pipeline_id=pipeline_id, status=status),
                                      headers={"Accept": "application/x-ndjson"})
            try:
                handle = yield Open(call)
                while True:
                    raw = yield ReadLine(handle)
                    if raw is None:
                        break  # the server ended the feed (it restarts, say): go on from the cursor
                    message = decode_line(raw)
                    if message is None:
                        continue
                    failures = 0
                    if message.get("type") != "event":
                        continue  # keepalives, and any message type a newer server adds
                    event = JobEvent.model_validate({k: v for k, v in message.items() if k != "type"})
                    if cursor is None or event.cursor > cursor:  # a replay after a reconnect never repeats
                        cursor = event.cursor
                        yield Emit(event)
                yield Close(handle)
            except httpx.TransportError as exc:
                if failures >= reconnects:
                    raise ConnectionFailed(f"Lost the event feed: {exc}") from exc
            failures += 1
            if failures > reconnects:
                raise ConnectionFailed("The event feed kept closing")
            yield Sleep(self._runner.policy.delay(failures))
