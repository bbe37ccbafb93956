"""Errors of the data plane: configuration refusals, step failures and cancellation."""

from __future__ import annotations


class DataPlaneError(Exception):
    """Base of every error the data plane raises on purpose."""


class DataPlaneConfigError(DataPlaneError):
    """A source, step or pipeline configuration is refused; `field` names the offending path."""

    def __init__(self, message: str, *, field: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.reason = reason or message

    def details(self) -> dict[str, str]:
        """The `details` payload of a VALIDATION_ERROR envelope."""
        return {"field": self.field, "reason": self.reason}


class StepFailed(DataPlaneError):
    """A step failed at run time; steps after it were not run and no sink was changed."""

    def __init__(self, step_id: str, message: str) -> None:
        super().__init__(f"step {step_id!r} failed: {message}")
        self.step_id = step_id
        self.message = message


class Cancelled(DataPlaneError):
    """The run was cancelled through `RunContext.cancel`; no sink was changed."""

    def __init__(self, step_id: str | None = None) -> None:
        super().__init__("run cancelled" + (f" during step {step_id!r}" if step_id else ""))
        self.step_id = step_id


class StepDataError(DataPlaneError):
    """Raised from inside a running plan by a step's own data check, so the failure names that step."""

    def __init__(self, step_id: str, message: str) -> None:
        super().__init__(message)
        self.step_id = step_id
        self.message = message
