"""`docc quality ...`, `docc datasets profile` and `docc events`: checks whose outcome is the exit code, and the
job feed as one line per event."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any

import click

from docc.cli import Context, cli, pass_context
from docc.cli.commands import datasets, limited
from docc.cli.output import EXIT_CHECK_FAILED, EXIT_TIMEOUT, Out, read_document
from docc.client import Client
from docc.models.events import JobEvent
from docc.models.quality import NOT_PASSED, RULE_TYPES, SEVERITIES, DatasetProfile

RULE_COLUMNS = ("id", "name", "dataset_id", "rule_type", "severity", "enabled", "latest_status", "version")
RESULT_COLUMNS = ("id", "status", "rows_checked", "rows_failed", "nulls", "pass_ratio", "threshold", "trigger",
                  "started_at")
RESULT_FIELDS = ("id", "rule_id", "dataset_id", "rule_version", "status", "severity", "trigger", "rows_checked",
                 "rows_failed", "nulls", "pass_ratio", "threshold", "observed", "sample", "error", "started_at",
                 "finished_at", "duration_s")
PROFILE_FIELDS = ("id", "dataset_id", "schema_version", "status", "row_count", "error", "started_at", "finished_at",
                  "duration_s")
COLUMN_COLUMNS = ("name", "type", "null_count", "distinct_count", "min", "max", "mean", "min_length", "max_length")
OUTCOMES = ("passed", "failed", "error")


def _outcome(status: str, not_passed: Collection[str] = NOT_PASSED) -> None:
    """A check's status as the exit code: 5 when it did not pass, 7 when it is still running."""
    if status in not_passed:
        raise click.exceptions.Exit(EXIT_CHECK_FAILED)
    if status == "running":
        raise click.exceptions.Exit(EXIT_TIMEOUT)


@cli.group()
def quality() -> None:
    """Quality rules, their runs and results."""


def _record_command(group: click.Group, name: str, argument: str, call: Callable[[Client, str], Any], doc: str,
                    fields: Sequence[str] | None = None) -> None:
    """Register `group name ARGUMENT`: one call of the SDK with the id, its answer shown as one record."""

    @group.command(name, help=doc)
    @click.argument(argument)
    @pass_context
    def command(state: Context, **given: str) -> None:
        state.out.record(call(state.client, given[argument]), fields)


@quality.group()
def rules() -> None:
    """Quality rules: list, show, create, change, run, enable, disable, delete."""


@rules.command("list")
@click.option("--dataset", "dataset_id", help="Rules of this dataset id.")
@click.option("--type", "rule_type", type=click.Choice(RULE_TYPES))
@click.option("--severity", type=click.Choice(SEVERITIES))
@click.option("--enabled/--disabled", default=None, help="Only enabled (or disabled) rules.")
@click.option("--status", type=click.Choice(OUTCOMES), help="The status of the rule's latest result.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many.")
@pass_context
def list_rules(state: Context, dataset_id: str | None, rule_type: str | None, severity: str | None,
               enabled: bool | None, status: str | None, limit: int | None) -> None:
    """List quality rules, newest first."""
    found = state.client.quality.rules.list(dataset_id=dataset_id, rule_type=rule_type, severity=severity,
                                            enabled=enabled, latest_status=status)
    state.out.table(limited(found, limit), RULE_COLUMNS)


_record_command(rules, "get", "rule_id", lambda client, rule_id: client.quality.rules.get(rule_id), "Show one rule.")


@rules.command("create")
@click.option("-f", "--file", "path", required=True, help="The rule as JSON or YAML (- for standard input).")
@pass_context
def create_rule(state: Context, path: str) -> None:
    """Create a rule from a file."""
    state.out.record(state.client.quality.rules.create(read_document(path)))


@rules.command("update")
@click.argument("rule_id")
@click.option("-f", "--file", "path", required=True, help="The fields to change, as JSON or YAML.")
@pass_context
def update_rule(state: Context, rule_id: str, path: str) -> None:
    """Change the fields the file gives (`schedule: null` removes the schedule)."""
    state.out.record(state.client.quality.rules.update(rule_id, read_document(path)))


@rules.command("delete")
@click.argument("rule_id")
@pass_context
def delete_rule(state: Context, rule_id: str) -> None:
    """Delete a rule and its results."""
    state.client.quality.rules.delete(rule_id)
    state.out.errors.print(f"Deleted {rule_id}")


_record_command(rules, "enable", "rule_id", lambda client, rule_id: client.quality.rules.enable(rule_id),
                "Enable a rule: it runs on its schedule and counts in the quality score.", RULE_COLUMNS)
_record_command(rules, "disable", "rule_id", lambda client, rule_id: client.quality.rules.disable(rule_id),
                "Disable a rule.", RULE_COLUMNS)


@rules.command("run")
@click.argument("rule_id")
@click.option("--wait", type=click.FloatRange(min=0), help="Wait up to this many seconds for the outcome; exit 5 "
              "if the check failed, errored or was cancelled, 7 if it is still running.")
@pass_context
def run_rule(state: Context, rule_id: str, wait: float | None) -> None:
    """Run a rule now."""
    result = state.client.quality.rules.run(rule_id, wait=wait)
    state.out.record(result, RESULT_FIELDS)
    if wait is not None:
        _outcome(result.status)


@rules.command("results")
@click.argument("rule_id")
@click.option("--status", type=click.Choice(["running", *OUTCOMES, "cancelled"]))
@click.option("--since", help="Runs started at or after this RFC 3339 time.")
@click.option("--until", help="Runs started before this RFC 3339 time.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@pass_context
def rule_results(state: Context, rule_id: str, status: str | None, since: str | None, until: str | None,
                 limit: int) -> None:
    """A rule's results, newest first."""
    found = state.client.quality.rules.results(rule_id, status=status, since=since, until=until)
    state.out.table(limited(found, limit), RESULT_COLUMNS)


@quality.group()
def results() -> None:
    """One result of a rule's run: show it, or cancel a running one."""


_record_command(results, "get", "result_id", lambda client, result_id: client.quality.results.get(result_id),
                "Show one result.", RESULT_FIELDS)
_record_command(results, "cancel", "result_id",
                lambda client, result_id: client.quality.results.cancel(result_id), "Stop a running check.",
                RESULT_FIELDS)


@datasets.command("profile")
@click.argument("dataset_id")
@click.option("--get", "latest", is_flag=True, help="Show the latest finished profile instead of making one.")
@click.option("--wait", type=click.FloatRange(min=0), default=60, show_default=True,
              help="Wait up to this many seconds for the profile (exit 7 if it is still running).")
@pass_context
def profile_dataset(state: Context, dataset_id: str, latest: bool, wait: float) -> None:
    """Profile a dataset's data (row count, per column nulls, distinct values, min, max, ...); exit 5 if it
    failed."""
    profile = (state.client.datasets.get_profile(dataset_id) if latest
               else state.client.datasets.profile(dataset_id, wait=wait))
    _show_profile(state.out, profile)
    _outcome(profile.status, not_passed=("failed",))


def _show_profile(out: Out, profile: DatasetProfile) -> None:
    if out.json:
        out.document(profile)
        return
    out.record(profile, PROFILE_FIELDS)
    if profile.columns:
        out.table(profile.columns, COLUMN_COLUMNS)


@cli.command("events")
@click.option("--after", type=click.IntRange(min=0), help="Start after this cursor (0: from the first event kept); "
              "without it, only what happens from now on.")
@click.option("--pipeline", "pipeline_id", help="Events of this pipeline id.")
@click.option("--status", help="Events leaving the job in this status (e.g. failed).")
@click.option("--limit", type=click.IntRange(min=1), help="Stop after this many events (else: until interrupted).")
@pass_context
def events(state: Context, after: int | None, pipeline_id: str | None, status: str | None,
           limit: int | None) -> None:
    """Follow the job feed of the workspace: one line per event (NDJSON with -o json); resumes by itself after a
    dropped connection."""
    with state.client.events.follow(after=after, pipeline_id=pipeline_id, status=status) as feed:
        try:
            for event in limited(feed, limit):
                _show_event(state.out, event)
        except KeyboardInterrupt:
            pass  # stopping a feed that never ends is how it ends


def _show_event(out: Out, event: JobEvent) -> None:
    if out.json:
        out.line(event)
        return
    step = f" {event.step_id}:{event.step_status}" if event.step_id else ""
    when = f"{event.time:%Y-%m-%d %H:%M:%S}" if event.time else "-"
    percent = f" {event.percent_complete:g}%" if event.percent_complete is not None else ""
    fields: dict[str, Any] = event.model_extra or {}
    extra = "".join(f" {name}={value}" for name, value in fields.items())
    out.console.print(f"{when} {event.cursor:>6} {event.kind:8} {event.job_id or '-'} {event.pipeline_id or '-'} "
                      f"{event.status or '-'}{percent}{step}{extra}", markup=False)
