"""GraphQL over HTTP media types: which one a request accepts, and how a failed request is answered in it.

The GraphQL-over-HTTP specification defines `application/graphql-response+json`, in which a request
that never reached execution (it does not parse, does not validate, or its variables do not coerce)
is answered with a 4xx status and no `data` entry. `application/json` stays as it always was here
(status 200, `data: null`), because older clients read the body only when the status is 200.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graphql.error import GraphQLError

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
# In order of preference when a client accepts both equally and names the first explicitly.
OFFERED = (GRAPHQL_RESPONSE, JSON)


def _ranges(accept: str) -> list[tuple[str, str, float]]:
    """The media ranges of an Accept header as (type, subtype, q); malformed ranges are skipped."""
    ranges = []
    for part in accept.split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        kind, slash, subtype = media.lower().partition("/")
        if not slash or not kind or not subtype:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = -1.0  # an unreadable weight: the range is ignored
        if 0.0 <= q <= 1.0:
            ranges.append((kind, subtype, q))
    return ranges


def _weight(offer: str, ranges: list[tuple[str, str, float]]) -> tuple[float, int]:
    """(q, specificity) of the most specific range that covers `offer`; (0, -1) when none does."""
    kind, _, subtype = offer.partition("/")
    best = (0.0, -1)
    for range_kind, range_subtype, q in ranges:
        if (range_kind, range_subtype) == (kind, subtype):
            specificity = 2
        elif range_kind == kind and range_subtype == "*":
            specificity = 1
        elif (range_kind, range_subtype) == ("*", "*"):
            specificity = 0
        else:
            continue
        if specificity > best[1]:
            best = (q, specificity)
    return best


def negotiate(accept: str | None) -> str | None:
    """The media type to answer in, or None when the client accepts neither (406).

    No Accept header, or only wildcards, gets `application/json`, which every existing client reads;
    `application/graphql-response+json` is chosen when the client names it and weighs it at least as
    high as `application/json`.
    """
    if accept is None or not accept.strip():
        return JSON
    ranges = _ranges(accept)
    if not ranges:
        return JSON  # nothing readable in the header: answer as if it were absent
    response_q, response_specificity = _weight(GRAPHQL_RESPONSE, ranges)
    json_q, _ = _weight(JSON, ranges)
    if response_q > json_q or (response_q == json_q > 0 and response_specificity == 2):
        return GRAPHQL_RESPONSE
    if json_q > 0:
        return JSON
    return None


def request_error_status(data: Any, errors: Sequence[GraphQLError] | None) -> int | None:
    """The status of a result that never reached execution, or None for an executed one.

    graphql-core gives every error raised while executing a field its path; an error without a path
    and no data means the request failed before execution: parsing, validation, variable coercion,
    or a refusal of the document. Such a failure is the client's (400) unless it is masked as
    INTERNAL_ERROR (500).
    """
    if data is not None or not errors or any(error.path is not None for error in errors):
        return None
    codes = {(error.extensions or {}).get("code") for error in errors}
    return 500 if "INTERNAL_ERROR" in codes else 400
