"""Structured logs: one JSON object a line, with secrets scrubbed."""

from __future__ import annotations

import functools
import logging
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


class JsonFormatter(logging.Formatter):
    """Formats a record as a single JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        for name in _EXTRA_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = scrub(value) if isinstance(value, str) else value
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
    logging.getLogger("aiohttp.access").disabled = True
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, ClientFaultsAtInfo) for f in server_log.filters):
        server_log.addFilter(ClientFaultsAtInfo())
