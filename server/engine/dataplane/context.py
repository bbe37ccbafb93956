"""What a run is given and gives back: the resolver, its callbacks and controls, and its statistics."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


class Resolver(Protocol):
    """What the caller resolves for the data plane."""

    def dataset(self, dataset_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The dataset's unmasked source dict and its schema dict."""
        ...

    def connection(self, name: str) -> str:
        """The URL of a named connection; raises for an unknown name."""
        ...


@dataclass(frozen=True)
class StepStats:
    """What one step did."""

    rows_in: int | None
    rows_out: int | None
    duration_s: float
    error: str | None = None


def _noop(*_args: Any) -> None:
    return None


@dataclass
class RunContext:
    """Callbacks and controls of one run; the caller makes the callbacks thread-safe."""

    cancel: threading.Event = field(default_factory=threading.Event)
    on_step_start: Callable[[str], None] = _noop
    on_step_end: Callable[[str, StepStats], None] = _noop
    log: Callable[[str, str | None, str], None] = _noop
    on_progress: Callable[[float], None] | None = None
    batch_rows: int = 100_000
    temp_dir: str | None = None
    # Names every staged object, so a sweep can tell whose it is: `<job id hex>_<attempt>`.
    job_key: str = field(default_factory=lambda: f"{uuid.uuid4().hex[:20]}_0")
    # Asked once every step has succeeded, with what was staged: True to publish, False to discard.
    # The job's process asks its parent, which records the plan first; alone, a run publishes at once.
    prepare: Callable[[list[dict[str, Any]]], bool] = lambda _records: True
    # Told after each staged write is published or discarded (`True` when published).
    on_released: Callable[[str, bool], None] = _noop
    # Told each outcome of a quality_check step's checks: (step id, index of the check in the step's
    # `checks`, the outcome as a dict), so saved rules' outcomes can be stored as their results.
    on_quality: Callable[[str, int, dict[str, Any]], None] = _noop


@dataclass(frozen=True)
class RunResult:
    """Per-step statistics in run order, and the run's wall time."""

    steps: dict[str, StepStats]
    duration_s: float


def trimmed(message: str) -> str:
    """One line per cause: drivers end with a newline and echo the statement (`query: ...`) after it."""
    lines = [line.strip() for line in message.strip().splitlines()]
    return " ".join(line for line in lines if line and not line.startswith("query:"))
