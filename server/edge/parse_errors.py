"""Requests that aiohttp's HTTP parser refuses before any handler or middleware runs answer in the envelope.

A request line or header past the parser's limits (HTTP_PARSER_LIMITS), too many headers, or bytes that are
not HTTP at all never reach the request middleware: aiohttp answers them from its connection handler with
a plain-text body. aiohttp offers no setting for that body and builds its connection handler itself, so
`install()` wraps the one method that writes it, once per process. The wrapper keeps aiohttp's behaviour
(its logging, its refusal to answer twice, closing the connection) and replaces only the body: the
reference's envelope with a stable code, and a request id for the caller to quote.
"""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web, web_protocol
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong

from server.edge.responses import error_response, status_of

_WRAPPED = "_docc_envelope"


def _refusal(exc: BaseException | None) -> tuple[str, str]:
    """(code, message) for what the parser refused; messages never echo the request's bytes."""
    if isinstance(exc, LineTooLong):
        # The parser reports the request target as the bytearray it was collecting, header lines as bytes:
        # nothing else tells the two apart. Either way the answer is a refusal in the envelope.
        line = exc.args[0] if exc.args else ""
        if isinstance(line, bytearray) or "status line" in str(line).lower():
            return "URI_TOO_LONG", "The request line is too long"
        return "HEADERS_TOO_LARGE", "A request header is too large"
    if isinstance(exc, BadHttpMessage) and "too many headers" in str(exc).lower():
        return "HEADERS_TOO_LARGE", "The request has too many headers"
    return "BAD_REQUEST", "The request could not be parsed as HTTP"


def install() -> None:
    """Make aiohttp's own refusals of unparsable requests answer in the envelope (idempotent)."""
    original = web_protocol.RequestHandler.handle_error
    if getattr(original, _WRAPPED, False):
        return

    def handle_error(self: web_protocol.RequestHandler, request: Any, status: int = 500,
                     exc: BaseException | None = None, message: str | None = None) -> web.StreamResponse:
        response = original(self, request, status, exc, message)  # logs it; raises when it cannot answer
        code, text = ("INTERNAL_ERROR", "Internal error") if status >= 500 else _refusal(exc)
        status = status_of(code)
        request_id = f"req_{secrets.token_hex(12)}"
        envelope = error_response(status, code, text, {}, request_id, headers={"X-Request-ID": request_id})
        envelope.force_close()
        return envelope if isinstance(response, web.Response) else response

    setattr(handle_error, _WRAPPED, True)
    web_protocol.RequestHandler.handle_error = handle_error  # type: ignore[method-assign]
