"""How the command line shows things: Rich tables for people, JSON for scripts, exit codes for CI."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import click
import yaml
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from docc import errors

# Exit codes: 0 done, 1 any other error, 2 bad usage (click's), and one per outcome a script tests for.
EXIT_ERROR = 1
EXIT_NOT_FOUND = 3
EXIT_REFUSED = 4      # the credential is missing, wrong, or lacks the scope (401, 403)
EXIT_JOB_FAILED = 5   # the job ended failed, cancelled or timed_out
EXIT_CHECK_FAILED = 5  # a quality check ended failed, error or cancelled; a profile failed: as a failed job
EXIT_INVALID = 6      # the server refused the request itself (400, 409, 412, ...)
EXIT_TIMEOUT = 7
EXIT_UNREACHABLE = 8
EXIT_JOB_SKIPPED = 9  # the run was recorded skipped: another run of its pipeline was active (concurrency: skip)

_CODES: list[tuple[type[errors.DoccError], int]] = [
    (errors.NotFound, EXIT_NOT_FOUND), (errors.Unauthorized, EXIT_REFUSED), (errors.Forbidden, EXIT_REFUSED),
    (errors.OAuthError, EXIT_REFUSED), (errors.JobFailed, EXIT_JOB_FAILED), (errors.WaitTimeout, EXIT_TIMEOUT),
    (errors.ConnectionFailed, EXIT_UNREACHABLE), (errors.ValidationError, EXIT_INVALID),
    (errors.InvalidJson, EXIT_INVALID), (errors.Conflict, EXIT_INVALID), (errors.SchemaIncompatible, EXIT_INVALID),
    (errors.PreconditionFailed, EXIT_INVALID),
]


def job_exit_code(status: str) -> int:
    """The exit code of a job that ended with `status`."""
    if status == "succeeded":
        return 0
    return EXIT_JOB_SKIPPED if status == "skipped" else EXIT_JOB_FAILED


def exit_code(error: errors.DoccError) -> int:
    for cls, code in _CODES:
        if isinstance(error, cls):
            return code
    return EXIT_ERROR


def plain(value: Any) -> Any:
    """JSON-ready data of a model (by the server's field names), a list of them, or anything else."""
    if isinstance(value, BaseModel):
        # What the server sent, nothing the model only defaulted.
        return value.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


class Out:
    """Where a command writes: `json` mode prints JSON documents, `table` mode tables and lines."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.console = Console(highlight=False, soft_wrap=True)
        self.errors = Console(stderr=True, highlight=False, soft_wrap=True)

    @property
    def json(self) -> bool:
        return self.mode == "json"

    @property
    def interactive(self) -> bool:
        return self.console.is_terminal and not self.json

    def document(self, value: Any) -> None:
        click.echo(json.dumps(plain(value), indent=2, ensure_ascii=False))

    def line(self, value: Any) -> None:
        """One JSON document on one line (NDJSON), for streams."""
        click.echo(json.dumps(plain(value), ensure_ascii=False, separators=(",", ":")))

    def table(self, rows: Iterable[Any], columns: Sequence[str], title: str | None = None) -> None:
        """A table of the given fields, or (json) a JSON array of the whole objects."""
        if self.json:
            self.document(list(rows))
            return
        table = Table(title=title, show_lines=False)
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            data = plain(row)
            table.add_row(*[_cell(data.get(column)) for column in columns])
        self.console.print(table)

    def record(self, value: Any, fields: Sequence[str] | None = None) -> None:
        """One object: JSON, or a two-column table of its fields."""
        if self.json:
            self.document(value)
            return
        data = plain(value)
        table = Table(show_header=False)
        table.add_column("field", style="bold")
        table.add_column("value")
        for name in fields or list(data):
            if name in data:
                table.add_row(name, _cell(data[name]))
        self.console.print(table)

    def fail(self, error: errors.DoccError) -> None:
        if self.json:
            click.echo(json.dumps({"error": {"code": error.code, "message": error.message, "details": error.details,
                                             "request_id": error.request_id}}), err=True)
        else:
            self.errors.print(f"[red]error[/red] {error}")
            if error.details:
                self.errors.print(json.dumps(error.details, ensure_ascii=False, default=str))


_INSTANT = re.compile(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]00:00)")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    text = str(value)
    # Tables show instants to the second, in UTC; JSON output keeps them whole.
    instant = _INSTANT.fullmatch(text)
    return f"{instant[1]} {instant[2]}" if instant else text


def read_document(path: str) -> Any:
    """A JSON or YAML file (`-` reads standard input); YAML is a superset of JSON, so one parser reads both."""
    text = sys.stdin.read() if path == "-" else Path(path).read_text()
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise click.BadParameter(f"{path} is neither JSON nor YAML: {exc}") from None
