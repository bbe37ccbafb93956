"""Structured logs: one JSON object a line, with secrets scrubbed."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import re
import sys
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp.http_exceptions import HttpProcessingError

from server.engine.dataplane.masking import mask_secrets

_EXTRA_FIELDS = ("request_id", "method", "route", "path", "status", "duration_ms", "job_id", "event")


def scrub(text: str) -> str:
    """Mask every credential form in free text: the data plane's one masking rule."""
    # An access line repeats its method, route, path and message request after request: short texts are
    # masked once and remembered (the unmasked text is in memory anyway).
    return _scrubbed(text) if len(text) <= _REMEMBERED_LENGTH else mask_secrets(text)


_REMEMBERED_LENGTH = 256


@functools.lru_cache(maxsize=4096)
def _scrubbed(text: str) -> str:
    return mask_secrets(text)


# A request id the server made itself (server.edge.context) holds nothing to mask; a caller's own may (a JWT fits
# the id's alphabet), so it is masked like any other text.
_OWN_REQUEST_ID = re.compile(r"req_[0-9a-f]{24}")


@functools.lru_cache(maxsize=4)
def _second(whole: int) -> str:
    return datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _timestamp(created: float) -> str:
    """`created` as RFC 3339 UTC with milliseconds, e.g. 2026-12-07T05:40:12.345+00:00: within one second
    every line shares the date and time, so only the milliseconds are formatted anew."""
    whole = int(created)
    micro = round((created - whole) * 1_000_000)  # as datetime.fromtimestamp rounds
    if micro == 1_000_000:
        whole, micro = whole + 1, 0
    return f"{_second(whole)}.{micro // 1000:03d}+00:00"


def json_line(created: float, level: str, logger: str, message: str, given: dict[str, Any]) -> dict[str, Any]:
    """The fields of one log line, texts scrubbed: what JsonFormatter writes for a record (and the access
    line's fast path for its own fields, so both give the same bytes)."""
    entry: dict[str, Any] = {"time": _timestamp(created), "level": level, "logger": logger, "message": scrub(message)}
    for name in _EXTRA_FIELDS:
        value = given.get(name)
        if value is None:
            continue
        if type(value) is str and not (name == "request_id" and _OWN_REQUEST_ID.fullmatch(value)):
            value = scrub(value)
        entry[name] = value
    return entry


class JsonFormatter(logging.Formatter):
    """Formats a record as a single JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.msg if not record.args and type(record.msg) is str else record.getMessage()
        entry = json_line(record.created, record.levelname, record.name, message, record.__dict__)
        if record.exc_info:
            entry["exception"] = scrub(self.formatException(record.exc_info))
        return orjson.dumps(entry).decode()


# This process's id, kept by a fork hook: os.getpid() is a system call, and the access log asks on every line.
_pid = os.getpid()


def _after_fork() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_after_fork)


class JsonLinesHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that writes the lines logged in one turn of an event loop together.

    Under load a server logs a line per request, many per turn of its loop: each line written and flushed
    on its own was a system call per request. Lines logged on a thread running an event loop wait in memory
    until the end of that turn (one `call_soon`), then leave in one write. A line at WARNING or above, a
    line from a thread without a loop, `flush()` and closing write at once, everything waiting first, in
    order. A process killed outright loses at most the lines of the turn it was in. Only the process that
    made the handler waits: a forked child (a job's process, which may leave by `os._exit`) writes each
    line at once, and never the lines its parent had waiting when it forked.
    """

    terminator = "\n"

    def __init__(self, stream: Any = None) -> None:
        super().__init__(stream)
        self._waiting: list[str] = []
        self._owner = self._pid = _pid
        # The loop asked to write the waiting lines at the end of its turn.
        self._turn: asyncio.AbstractEventLoop | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self.write_line(line, urgent=record.levelno >= logging.WARNING)

    def write_line(self, line: str, urgent: bool = False) -> None:
        """Write one formatted line (this handler's lock held or not): now, or at the end of the loop's turn."""
        with self.lock:  # type: ignore[union-attr]
            loop = None
            if not urgent and not self._forked():
                try:
                    loop = asyncio.get_running_loop()
                except RuntimeError:
                    loop = None
            self._waiting.append(line)
            if loop is None:
                self._write_waiting()
            elif self._turn is not loop:  # no write asked of this loop yet (or of a loop that is gone)
                self._turn = loop
                loop.call_soon(self._write_turn)

    def _forked(self) -> bool:
        """True in a forked child of the process that made the handler; the lines it copied from its parent
        (the parent writes them) are dropped the first time."""
        pid = _pid
        if pid == self._owner:
            return False
        if pid != self._pid:
            self._pid, self._waiting = pid, []
        return True

    def _write_turn(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._turn = None
            self._write_waiting()

    def _write_waiting(self) -> None:
        if not self._waiting:
            return
        lines, self._waiting = self._waiting, []
        try:
            self.stream.write(self.terminator.join(lines) + self.terminator)
            self.stream.flush()
        except Exception:
            # The stream is gone or full: as logging does, say so on stderr and go on.
            logging.Handler.handleError(self, logging.makeLogRecord({"msg": lines[0]}))

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._forked()
            self._write_waiting()
            super().flush()


def fast_sink(logger: logging.Logger) -> JsonLinesHandler | None:
    """The handler a line of `logger` at INFO reaches, when formatting it directly gives what logging would:
    INFO enabled, no filters on the way, and the root's one handler a JsonLinesHandler with the JSON formatter
    (the server's own configuration). None otherwise: the caller logs a record as usual."""
    if logger.filters or logger.handlers or not logger.propagate or logger.disabled \
            or not logger.isEnabledFor(logging.INFO):
        return None
    handlers = logging.getLogger().handlers
    if len(handlers) != 1:
        return None
    handler = handlers[0]
    if type(handler) is not JsonLinesHandler or handler.filters or handler.level > logging.INFO \
            or type(handler.formatter) is not JsonFormatter:
        return None
    return handler


class ClientFaultsAtInfo(logging.Filter):
    """aiohttp logs a request it cannot parse (a line or header past its limits, a bad method, garbage on
    the port) at ERROR with a traceback. That is the client's fault: keep one INFO line, no traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError) and record.levelno > logging.INFO:
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.msg, record.args = f"{record.getMessage()}: {type(exc).__name__} {exc.code}", ()
            record.exc_info, record.exc_text = None, None
        return True


def configure_logging(level: str) -> None:
    """Send every log record to stderr as JSON lines at `level` (the lines of one loop turn in one write)."""
    handler = JsonLinesHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # No line shows the thread, process or task names, nor where a call was made: do not collect them for
    # every record (the access line is written once a request).
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    if hasattr(logging, "logAsyncioTasks"):
        logging.logAsyncioTasks = False
    logging.getLogger("aiohttp.access").disabled = True
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, ClientFaultsAtInfo) for f in server_log.filters):
        server_log.addFilter(ClientFaultsAtInfo())
