"""How a followed job log is written on the wire: NDJSON by default, Server-Sent Events when asked.

SSE (`Accept: text/event-stream`): each line is a `log` event whose `id` is the line's sequence number,
so a browser's `EventSource` resumes by itself (`Last-Event-ID`); the stream ends with an `end` event;
a comment line keeps a quiet stream alive through proxies.

A reader that falls behind the live lines by more than its queue gets a last `lagged` message with the
cursor it reached (NDJSON `{"type": "lagged", "cursor": N}`; SSE a `lagged` event whose id is N, so an
`EventSource` resumes from there by itself) and the stream ends.

Live lines reach a plain response through `ResponseLines`: the job's fan-out writes each batch's bytes
(one encoding per format, and per chunked framing) straight to every follower's transport.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable
from typing import Any

import orjson
from aiohttp import web

from resolvers.errors import ValidationError
from resolvers.views.jobs import LogLineView

NDJSON = "application/x-ndjson"
EVENT_STREAM = "text/event-stream"
# A browser reconnects this long after a dropped stream.
RETRY_MILLISECONDS = 2_000
_DIGITS = re.compile(r"[0-9]{1,18}")


def wants_events(request: web.Request) -> bool:
    """Whether the client asked for Server-Sent Events rather than NDJSON."""
    return any(part.split(";")[0].strip().lower() == EVENT_STREAM
               for part in request.headers.get("Accept", "").split(","))


def last_event_id(request: web.Request) -> int | None:
    """The sequence number a reconnecting SSE client last received; raises ValidationError."""
    raw = request.headers.get("Last-Event-ID")
    if raw is None or not raw.strip():
        return None
    if not _DIGITS.fullmatch(raw.strip()):
        raise ValidationError("Invalid Last-Event-ID", field="Last-Event-ID",
                              reason="Expected the id of an event this server sent")
    return int(raw.strip())


def _json(body: Any) -> bytes:
    return orjson.dumps(body, option=orjson.OPT_UTC_Z)


class LogWriter:
    """Writes log lines, keep-alives and the end of a followed log in one of the two formats."""

    def __init__(self, events: bool) -> None:
        self.events = events
        self.content_type = EVENT_STREAM if events else NDJSON

    def opening(self) -> bytes:
        return f"retry: {RETRY_MILLISECONDS}\n\n".encode() if self.events else b""

    def line(self, seq: int, body: dict[str, Any]) -> bytes:
        if self.events:
            return b"id: %d\nevent: log\ndata: %s\n\n" % (seq, _json(body))
        return _json({"type": "log", **body}) + b"\n"

    def lines(self, lines: Iterable[LogLineView], body: Callable[[LogLineView], dict[str, Any]]) -> bytes:
        """The lines as one chunk. A live line is shared by all its followers: its bytes in this format are
        made once, by the first follower that writes it, and kept in the line's memo for the others."""
        key = self.content_type
        chunks = []
        for line in lines:
            encoded = line.memo.get(key)
            if encoded is None:
                encoded = line.memo[key] = self.line(line.seq, body(line))
            chunks.append(encoded)
        return b"".join(chunks)

    def end(self, body: dict[str, Any]) -> bytes:
        if self.events:
            return b"event: end\ndata: %s\n\n" % _json(body)
        return _json({"type": "end", **body}) + b"\n"

    def lagged(self, cursor: int) -> bytes:
        body = {"cursor": cursor, "message": "The reader fell behind; resume with after=cursor"}
        if self.events:
            return b"id: %d\nevent: lagged\ndata: %s\n\n" % (cursor, _json(body))
        return _json({"type": "lagged", **body}) + b"\n"

    def keepalive(self) -> bytes:
        return b": keep-alive\n\n" if self.events else b'{"type":"keepalive"}\n'


class ResponseLines:
    """A streamed response as a sink of the job's fan-out (resolvers/job_fanout.py): the live lines' bytes, in
    the writer's format and the response's framing, go straight to its transport.

    Only for a plain response (no compression, no declared length), prepared, with its headers sent. What the
    response itself writes (stored lines, keep-alives, the end) goes to the same transport, in order: every
    write of either kind is made at once, never held back.
    """

    def __init__(self, response: web.StreamResponse, writer: LogWriter,
                 body: Callable[[LogLineView], dict[str, Any]], on_write: Callable[[], None]) -> None:
        payload = response._payload_writer
        self._payload = payload
        self._chunked = bool(payload is not None and payload.chunked)
        self._writer, self._body, self._on_write = writer, body, on_write
        self.key: Hashable = (writer.content_type, self._chunked)

    @classmethod
    def of(cls, response: web.StreamResponse, writer: LogWriter, body: Callable[[LogLineView], dict[str, Any]],
           on_write: Callable[[], None]) -> ResponseLines | None:
        """The sink of `response`, or None when the response must write through aiohttp (compressed, with a
        declared length, or a transport gone)."""
        payload = response._payload_writer
        if payload is None or payload._compress is not None or payload.length is not None \
                or payload._on_chunk_sent is not None or payload.transport is None:
            return None
        payload.send_headers()
        return cls(response, writer, body, on_write)

    def encode(self, lines: list[LogLineView]) -> bytes:
        data = self._writer.lines(lines, self._body)
        return b"%x\r\n%s\r\n" % (len(data), data) if self._chunked else data

    def write(self, data: bytes) -> None:
        transport = self._payload.transport
        if transport is None or transport.is_closing():
            raise ConnectionResetError("Cannot write to closing transport")
        transport.write(data)
        self._on_write()

    def buffered(self) -> int:
        transport = self._payload.transport
        return 0 if transport is None else transport.get_write_buffer_size()

    def closing(self) -> bool:
        transport = self._payload.transport
        return transport is None or transport.is_closing()
