"""What the GraphQL websocket protocols get beyond Strawberry's defaults.

- The legacy `graphql-ws` protocol closes a refused credential with 4403, as `graphql-transport-ws` does
  (Strawberry's handler closes with 1011, an internal error).
- Each credential holds at most `DOCC_WS_MAX_SOCKETS_PER_CREDENTIAL` open sockets; one more is closed with
  4429 (too many requests) after its `connection_init`.
- Keep-alive: websocket ping frames every `DOCC_WS_HEARTBEAT_SECONDS` on both protocols (a peer that does
  not answer is closed), and the legacy protocol's own `ka` messages at the same pace.
- Each credential has at most `DOCC_WS_MAX_SUBSCRIPTIONS_PER_CREDENTIAL` operations in flight over all its
  sockets (of this process); one more is refused alone, with RATE_LIMITED, and the socket stays open.
- A socket with no operation in flight that sends no message for `DOCC_WS_IDLE_SECONDS` is closed with
  4408: a forgotten tab does not hold a place of its credential for ever.
- Writes: every message is encoded with orjson; the `data` a subscription event shares with its other
  followers (see schema/execution.py) is encoded once for all of them. The messages one socket sends in one
  turn of the event loop (a follower that had several lines waiting) leave in one write, not one each.
- Live job lines skip the per-message machinery: each operation task knows its id and protocol, so a
  `jobLogs` subscription whose selection is plain fields hands the job's fan-out a `SocketLines` sink, and
  the fan-out writes one frame per line and (operation id, selection), the same bytes to every socket that
  shares them. A socket that negotiated permessage-deflate keeps the usual road.
"""

from __future__ import annotations

import asyncio
import json
import struct
from collections import Counter
from collections.abc import Callable, Hashable, Mapping
from functools import partial
from typing import Any

import orjson
from aiohttp import WSMsgType, web
from aiohttp.client_exceptions import ClientConnectionResetError
from strawberry.aiohttp.views import AiohttpWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler, Operation
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler

from resolvers.errors import RateLimited
from resolvers.job_fanout import CannotEncode
from resolvers.views.jobs import LogLineView
from schema.execution import SOCKET_SINK, SharedData

CLOSE_FORBIDDEN = 4403
CLOSE_TOO_MANY = 4429
CLOSE_IDLE = 4408
SOCKETS_BY_CREDENTIAL = web.AppKey("docc_ws_sockets_by_credential", Counter)
OPERATIONS_BY_CREDENTIAL = web.AppKey("docc_ws_operations_by_credential", Counter)
_HELD = web.RequestKey("docc_ws_held_credential", str)


class LegacyProtocolHandler(BaseGraphQLWSHandler):
    """graphql-ws as its clients expect: a refused `connection_init` closes the socket with 4403. Each
    operation's task may write its live lines directly (`SocketLines`, as `data` messages)."""

    async def send_message(self, message: Any) -> None:
        await super().send_message(message)
        if message.get("type") == "connection_error" and message.get("payload") is not None:
            await self.websocket.close(code=CLOSE_FORBIDDEN, reason="Forbidden")

    async def handle_async_results(self, operation_id: str, query: str, operation_name: str | None,
                                   variables: dict[str, object] | None) -> None:
        task = asyncio.current_task()
        SOCKET_SINK.set(partial(SocketLines.of, self.websocket, "data", operation_id,
                                lambda: self.tasks.get(operation_id) is task))
        await super().handle_async_results(operation_id, query, operation_name, variables)


class TransportProtocolHandler(BaseGraphQLTransportWSHandler):
    """graphql-transport-ws, whose operations' tasks may write their live lines directly (`next` messages)."""

    async def run_operation(self, operation: Operation[Any, Any]) -> None:
        SOCKET_SINK.set(partial(SocketLines.of, self.websocket, "next", operation.id,
                                lambda: self.operations.get(operation.id) is operation))
        await super().run_operation(operation)


async def hold_socket(request: web.Request, ws: web.WebSocketResponse, rate_key: str, limit: int) -> bool:
    """Count an authenticated socket toward its credential; close it with 4429 and return False past `limit`."""
    held = request.app[SOCKETS_BY_CREDENTIAL]
    if held[rate_key] >= limit:
        await ws.close(code=CLOSE_TOO_MANY, message=b"Too many open sockets for this credential")
        return False
    held[rate_key] += 1
    request[_HELD] = rate_key
    return True


def release_socket(request: web.Request) -> None:
    """Forget a closed socket (no-op for one that never held a place)."""
    rate_key = request.get(_HELD)
    if rate_key is None:
        return
    held = request.app[SOCKETS_BY_CREDENTIAL]
    held[rate_key] -= 1
    if held[rate_key] <= 0:
        del held[rate_key]


# Past this many bytes waiting for one socket, they are written at once (and the socket's flow control heard).
_COALESCE_LIMIT = 64 * 1024
_FIN_TEXT = 0x81


def _text_frame(payload: bytes) -> bytes:
    """A final, unmasked text frame (RFC 6455 section 5.2), as a server sends it."""
    size = len(payload)
    if size < 126:
        return struct.pack("!BB", _FIN_TEXT, size) + payload
    if size < 1 << 16:
        return struct.pack("!BBH", _FIN_TEXT, 126, size) + payload
    return struct.pack("!BBQ", _FIN_TEXT, 127, size) + payload


class TrackedWebSocket(web.WebSocketResponse):
    """A server socket that knows when its peer last sent a message and how many operations it runs, and
    sends the text messages of one turn of the event loop in one write (`send_text`)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.last_active = asyncio.get_running_loop().time()
        self.in_flight = 0
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._flush_soon: asyncio.Handle | None = None

    async def send_text(self, payload: bytes) -> None:
        """Send `payload` (UTF-8 JSON) as one text message, in order with every other message sent this way.

        Messages sent before the loop turns are joined into one write. A compressed socket (the client
        asked for permessage-deflate) sends each message through aiohttp's writer instead. The frames go to
        the transport of aiohttp's writer and wait on its protocol's drain, as that writer does itself
        (internals of the pinned aiohttp release; tests/test_live_batches.py checks the frames).
        """
        writer = self._writer
        if writer is None or self.compress:
            self._flush()
            await self.send_frame(payload, WSMsgType.TEXT)
            return
        if self.closed or writer.transport.is_closing():
            raise ClientConnectionResetError("Cannot write to closing transport")
        self._pending.append(_text_frame(payload))
        self._pending_size += len(payload)
        if self._flush_soon is None:
            self._flush_soon = asyncio.get_running_loop().call_soon(self._flush)
        # A reader that does not keep up fills the transport's buffer: wait for it as aiohttp's writer
        # does, so the follower's own queue fills up and tells it it lagged.
        if self._pending_size >= _COALESCE_LIMIT or writer.protocol.writing_paused:
            self._flush()
            if writer.protocol.writing_paused:
                await writer.protocol._drain_helper()

    def _flush(self) -> None:
        if self._flush_soon is not None:
            self._flush_soon.cancel()
            self._flush_soon = None
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        self._pending_size = 0
        writer = self._writer
        if writer is not None and not writer.transport.is_closing():
            writer.transport.write(data)

    async def close(self, *, code: int = 1000, message: bytes = b"", drain: bool = True) -> bool:
        self._flush()  # what was sent before the close frame goes out before it
        return await super().close(code=code, message=message, drain=drain)

    async def receive(self, timeout: float | None = None) -> Any:  # noqa: ASYNC109
        message = await super().receive(timeout)
        self.last_active = asyncio.get_running_loop().time()
        return message


def hold_operation(app: web.Application, ws: TrackedWebSocket, rate_key: str, limit: int) -> Callable[[], None]:
    """Count one operation toward its socket and its credential; returns the release, or raises RateLimited."""
    held = app[OPERATIONS_BY_CREDENTIAL]
    if held[rate_key] >= limit:
        raise RateLimited("Too many subscriptions in flight for this credential", {"limit": limit})
    held[rate_key] += 1
    ws.in_flight += 1
    released = False

    def release() -> None:
        nonlocal released
        if released:
            return
        released = True
        ws.in_flight -= 1
        ws.last_active = asyncio.get_running_loop().time()  # the idle clock starts when the last one ends
        held[rate_key] -= 1
        if held[rate_key] <= 0:
            del held[rate_key]

    return release


async def close_when_idle(ws: TrackedWebSocket, idle_seconds: float) -> None:
    """Close the socket with 4408 once it has run nothing and sent nothing for `idle_seconds`."""
    loop = asyncio.get_running_loop()
    while not ws.closed:
        left = ws.last_active + idle_seconds - loop.time()
        if left > 0 or ws.in_flight:
            await asyncio.sleep(max(left, 0.0) or idle_seconds)
            continue
        await ws.close(code=CLOSE_IDLE, message=b"Idle timeout: no operation and no message")
        return


def encode_message(message: Mapping[str, Any]) -> bytes:
    """A protocol message as JSON. A `next`/`data` message whose data is shared by several followers reuses
    that data's encoding, made by the first of them."""
    payload = message.get("payload")
    if len(message) == 3 and isinstance(payload, dict) and len(payload) == 1:
        data = payload.get("data")
        if type(data) is SharedData:
            if data.encoded is None:
                data.encoded = orjson.dumps(data)
            return b'{"id":%s,"type":%s,"payload":{"data":%s}}' % (
                orjson.dumps(message["id"]), orjson.dumps(message["type"]), data.encoded)
    try:
        return orjson.dumps(message)
    except TypeError:  # beyond what orjson encodes (an integer past 64 bits): the standard library does
        return json.dumps(message, separators=(",", ":")).encode()


class SocketAdapter(AiohttpWebSocketAdapter):
    """Strawberry's aiohttp socket adapter, writing through `TrackedWebSocket.send_text`."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        if not isinstance(self.ws, TrackedWebSocket):
            await super().send_json(message)
            return
        try:
            await self.ws.send_text(encode_message(message))
        except (RuntimeError, ClientConnectionResetError) as exc:
            raise WebSocketDisconnected from exc


class SocketLines:
    """One websocket operation as a sink of a job's fan-out (resolvers/job_fanout.py): each live line is a
    `next` (or `data`) message whose payload is the line's shared result, framed once per (operation id,
    selection) for every socket that has the same, and written straight to the socket's transport after what
    the socket already queued."""

    def __init__(self, ws: TrackedWebSocket, message_type: str, operation_id: str, alive: Callable[[], bool],
                 selection: Hashable, data_of: Callable[[LogLineView], SharedData | None]) -> None:
        self.ws, self._data_of, self._alive = ws, data_of, alive
        self._transport = ws._writer.transport  # type: ignore[union-attr]
        self._head = b'{"id":%s,"type":%s,"payload":{"data":' % (orjson.dumps(operation_id),
                                                                  orjson.dumps(message_type))
        self.key: Hashable = (message_type, operation_id, selection)

    @classmethod
    def of(cls, adapter: Any, message_type: str, operation_id: str, alive: Callable[[], bool], selection: Hashable,
           data_of: Callable[[LogLineView], SharedData | None]) -> SocketLines | None:
        """The sink of the operation `operation_id` (still running while `alive()`) on the socket behind
        Strawberry's `adapter`, or None when its messages must go through aiohttp's writer (permessage-deflate)
        or Strawberry's."""
        ws = getattr(adapter, "ws", None)
        if not isinstance(ws, TrackedWebSocket) or ws.compress or ws._writer is None:
            return None
        return cls(ws, message_type, operation_id, alive, selection, data_of)

    def encode(self, lines: list[LogLineView]) -> bytes:
        frames = []
        for line in lines:
            data = self._data_of(line)
            if data is None:
                raise CannotEncode(line.seq)
            if data.encoded is None:
                data.encoded = orjson.dumps(data)
            frames.append(_text_frame(b"%s%s}}" % (self._head, data.encoded)))
        return b"".join(frames)

    def write(self, data: bytes) -> None:
        ws = self.ws
        # Nothing after a close frame, nor once the client completed the operation (it may reuse the id at
        # once, before the operation's task has seen its cancellation).
        if ws._closed or self._transport.is_closing() or not self._alive():
            raise ConnectionResetError("Cannot write to closing transport")
        if ws._pending:
            ws._flush()  # what the socket queued before goes out first
        self._transport.write(data)

    def buffered(self) -> int:
        return self.ws._pending_size + self._transport.get_write_buffer_size()

    def closing(self) -> bool:
        return self.ws._closed or self._transport.is_closing() or not self._alive()
