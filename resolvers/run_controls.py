"""A pipeline's run controls: its concurrency policy, retries and timeout, validated and applied to new runs."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

import pydantic

from resolvers.validation import StrictInput
from server.models.engine import CONCURRENCY_POLICIES, Pipeline

__all__ = ["CONCURRENCY_POLICIES", "Concurrency", "RetryPolicy", "Seconds", "controls_of"]

_DURATION = re.compile(r"^(\d{1,7}(?:\.\d{1,6})?)\s*([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86_400}
MAX_SECONDS = 30 * 86_400.0

Concurrency = Literal["allow", "queue", "skip", "replace"]


def to_seconds(value: Any) -> float:
    """Seconds as a number, or a duration string (`90s`, `15m`, `2h`, `1d`, `120`); raises ValueError."""
    if isinstance(value, bool):
        raise ValueError("Expected seconds (a number) or a duration such as 90s, 15m, 2h or 1d")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value.strip())):
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    else:
        raise ValueError("Expected seconds (a number) or a duration such as 90s, 15m, 2h or 1d")
    if not math.isfinite(seconds) or not 0 <= seconds <= MAX_SECONDS:
        raise ValueError(f"Must be between 0 and {MAX_SECONDS:g} seconds (30 days)")
    return seconds


# The OpenAPI document says what the validator takes: a number or a duration string.
_EITHER = pydantic.WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string"}]})
Seconds = Annotated[float, pydantic.BeforeValidator(to_seconds), _EITHER]


def _positive(value: float) -> float:
    if value <= 0:
        raise ValueError("Must be more than 0 seconds")
    return value


Timeout = Annotated[float, pydantic.BeforeValidator(to_seconds), pydantic.AfterValidator(_positive), _EITHER]


class RetryPolicy(StrictInput):
    """How often a failed or timed-out attempt is run again, and after how long."""

    count: int = pydantic.Field(ge=0, le=100)
    delay: Seconds = 0.0
    backoff: float = pydantic.Field(default=2.0, ge=1.0, le=100.0)
    max_delay: Seconds | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "delay": self.delay, "backoff": self.backoff, "max_delay": self.max_delay}


def controls_of(pipeline: Pipeline) -> dict[str, Any]:
    """What a new job of the pipeline runs under (copied onto the job, so a later change does not alter it)."""
    return {"concurrency": pipeline.concurrency, "retries": pipeline.retries, "timeout_s": pipeline.timeout_s}
