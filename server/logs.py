"""Structured logs: one JSON object a line, with secrets scrubbed."""

from __future__ import annotations

import functools
import logging
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


class JsonFormatter(logging.Formatter):
    """Formats a record as a single JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        given = record.__dict__
        entry: dict[str, Any] = {
            "time": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.msg if not record.args and type(record.msg) is str else record.getMessage()),
        }
        for name in _EXTRA_FIELDS:
            value = given.get(name)
            if value is None:
                continue
            if type(value) is str and not (name == "request_id" and _OWN_REQUEST_ID.fullmatch(value)):
                value = scrub(value)
            entry[name] = value
        if record.exc_info:
            entry["exception"] = scrub(self.formatException(record.exc_info))
        return orjson.dumps(entry).decode()


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
    """Send every log record to stderr as JSON lines at `level`."""
    handler = logging.StreamHandler(sys.stderr)
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
