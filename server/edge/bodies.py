"""JSON request bodies at the HTTP edge, read alike by REST, GraphQL and the OAuth endpoints: bounded
in depth, free of NUL characters, and refused in the envelope when they are not JSON."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from resolvers.errors import DoccError, ValidationError

# Deeper JSON than this is refused before it is used: nothing the API takes nests that far, and the
# encoder (orjson stops at 255 levels) and recursive validators must never meet such a value.
MAX_JSON_DEPTH = 64


class NulCharacter(ValidationError):
    """A NUL character in text: PostgreSQL cannot store one, so every backend refuses it alike."""

    def __init__(self, field: str) -> None:
        super().__init__("Text must not contain NUL characters", field=field, reason="Contains U+0000")


class InvalidJson(DoccError):
    code = "INVALID_JSON"


class UnsupportedMediaType(DoccError):
    code = "UNSUPPORTED_MEDIA_TYPE"


class UnreadableBody(DoccError):
    code = "BAD_REQUEST"


async def read_body(request: web.Request) -> bytes:
    """The request's body; one its Content-Encoding cannot decode is a 400 BAD_REQUEST, not a server fault."""
    try:
        return await request.read()
    except RequestPayloadError:
        # The rest of the body cannot be read either: mark it ended, so aiohttp does not read it again
        # after the answer (which re-raised the error and logged it as unhandled), and close the
        # connection once the answer is sent.
        request.content.feed_eof()
        if request.protocol is not None:
            request.protocol.close()
        encoding = request.headers.get("Content-Encoding", "")
        raise UnreadableBody("The request body could not be decoded",
                             {"content_encoding": encoding[:64]} if encoding else {}) from None


async def read_json(request: web.Request) -> dict[str, Any]:
    """The JSON object body of a request; raises UnsupportedMediaType, InvalidJson."""
    if request.content_type != "application/json":
        raise UnsupportedMediaType("Send the body as application/json",
                                   {"content_type": request.content_type})
    body = loads_bounded(await read_body(request))
    if not isinstance(body, dict):
        raise ValidationError("Expected a JSON object", field="body", reason="Expected an object")
    return body


def json_depth(value: Any) -> int:
    """How deeply lists and objects nest in a parsed JSON value (a scalar is 0), without recursion.

    Raises NulCharacter when a string (key or value) holds a NUL character.
    """
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise NulCharacter("body")
            continue
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        if isinstance(item, dict) and any("\x00" in key for key in item):
            raise NulCharacter("body")
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list | str))
    return deepest


def loads_bounded(raw: bytes | str) -> Any:
    """Parse JSON nested at most MAX_JSON_DEPTH deep; raises InvalidJson."""
    too_deep = InvalidJson("The body nests too deeply", {"reason": f"JSON nests more than {MAX_JSON_DEPTH} levels",
                                                          "max_depth": MAX_JSON_DEPTH})
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        # orjson stops at 1024 levels by itself; report that as what it is.
        raise (too_deep if "depth" in str(exc) else InvalidJson("The body is not valid JSON",
                                                                 {"reason": str(exc)})) from None
    if json_depth(value) > MAX_JSON_DEPTH:
        raise too_deep
    return value
