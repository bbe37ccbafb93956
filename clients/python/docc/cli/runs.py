"""`docc pipelines ...` and `docc jobs ...`: runs followed to their end, with the job's outcome as exit code."""

from __future__ import annotations

import time
from typing import Any

import click
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from docc import errors
from docc.cli import Context, cli, pass_context
from docc.cli.commands import limited
from docc.cli.output import Out, job_exit_code, read_document
from docc.client import Client
from docc.models.jobs import Job, LogLine

PIPELINE_COLUMNS = ("id", "name", "version", "schedule", "updated_at")
JOB_COLUMNS = ("id", "pipeline_id", "status", "trigger", "percent_complete", "created_at")
JOB_FIELDS = ("id", "pipeline_id", "pipeline_version", "status", "trigger", "percent_complete", "created_at",
              "started_at", "finished_at", "duration_s", "statistics", "error", "steps")


def _pipeline_id(client: Client, name_or_id: str) -> str:
    """A pipeline id, given its id or its exact name; NotFound otherwise."""
    if name_or_id.startswith("pl_"):
        return name_or_id
    for pipeline in client.pipelines.list(name=name_or_id):
        if pipeline.name == name_or_id:
            return pipeline.id
    raise errors.NotFound(f"Pipeline '{name_or_id}' was not found", status=404)


@cli.group()
def pipelines() -> None:
    """Pipelines and their runs."""


@pipelines.command("list")
@click.option("--name", help="Part of the name, any case.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many.")
@pass_context
def list_pipelines(state: Context, name: str | None, limit: int | None) -> None:
    """List pipelines."""
    found = limited(state.client.pipelines.list(name=name), limit)
    if state.out.json:
        state.out.document(list(found))
        return
    state.out.table(({**pipeline.model_dump(mode="json"), "schedule": pipeline.schedule.cron if pipeline.schedule
                      else None} for pipeline in found), PIPELINE_COLUMNS)


@pipelines.command("get")
@click.argument("name_or_id")
@pass_context
def get_pipeline(state: Context, name_or_id: str) -> None:
    """Show one pipeline."""
    state.out.record(state.client.pipelines.get(_pipeline_id(state.client, name_or_id)))


@pipelines.command("create")
@click.option("-f", "--file", "path", required=True, help="The pipeline as JSON or YAML (- for standard input).")
@pass_context
def create_pipeline(state: Context, path: str) -> None:
    """Create a pipeline from a file."""
    state.out.record(state.client.pipelines.create(read_document(path)))


@pipelines.command("run")
@click.argument("name_or_id")
@click.option("--follow", is_flag=True, help="Show the job's log until it ends; exit 5 if it fails, 9 if skipped.")
@click.option("--idempotency-key", help="Runs with the same key answer the same job.")
@pass_context
def run_pipeline(state: Context, name_or_id: str, follow: bool, idempotency_key: str | None) -> None:
    """Run a pipeline (by name or id)."""
    client = state.client
    job = client.pipelines.run(_pipeline_id(client, name_or_id), idempotency_key=idempotency_key)
    if not follow:
        state.out.record(job, JOB_FIELDS)
        return
    _follow(state.out, client, job.id)


@cli.group()
def jobs() -> None:
    """Jobs: runs of pipelines."""


@jobs.command("list")
@click.option("--pipeline", "pipeline_id", help="Jobs of this pipeline id.")
@click.option("--status", type=click.Choice(["queued", "pending", "running", "succeeded", "failed", "cancelled",
                                            "skipped", "timed_out"]))
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@pass_context
def list_jobs(state: Context, pipeline_id: str | None, status: str | None, limit: int) -> None:
    """List jobs, newest first."""
    state.out.table(limited(state.client.jobs.list(pipeline_id=pipeline_id, status=status), limit), JOB_COLUMNS)


@jobs.command("get")
@click.argument("job_id")
@pass_context
def get_job(state: Context, job_id: str) -> None:
    """Show one job with its steps."""
    state.out.record(state.client.jobs.get(job_id), JOB_FIELDS)


@jobs.command("cancel")
@click.argument("job_id")
@pass_context
def cancel_job(state: Context, job_id: str) -> None:
    """Cancel a pending or running job."""
    state.out.record(state.client.jobs.cancel(job_id), ("id", "status", "cancel_requested"))


@jobs.command("retry")
@click.argument("job_id")
@click.option("--from-failed-step", is_flag=True, help="Start at the step that failed.")
@pass_context
def retry_job(state: Context, job_id: str, from_failed_step: bool) -> None:
    """Run a job's pipeline version again."""
    state.out.record(state.client.jobs.retry(job_id, from_failed_step=from_failed_step), JOB_FIELDS)


@jobs.command("wait")
@click.argument("job_id")
@click.option("--timeout", type=click.FloatRange(min=0), help="Give up after this many seconds (exit 7).")
@pass_context
def wait_job(state: Context, job_id: str, timeout: float | None) -> None:
    """Wait for a job to end; exit 5 if it failed, was cancelled or timed out, 9 if it was skipped."""
    job = state.client.jobs.wait(job_id, timeout=timeout)
    state.out.record(job, JOB_FIELDS)
    if job.status != "succeeded":
        raise click.exceptions.Exit(job_exit_code(job.status))


@jobs.command("logs")
@click.argument("job_id")
@click.option("--follow", "-f", is_flag=True, help="Keep showing lines until the job ends; exit 5 if it fails.")
@click.option("--after", type=click.IntRange(min=0), help="Only lines after this sequence number.")
@click.option("--level", type=click.Choice(["debug", "info", "warning", "error"]), help="This level and above.")
@pass_context
def job_logs(state: Context, job_id: str, follow: bool, after: int | None, level: str | None) -> None:
    """A job's log lines."""
    if follow:
        _follow(state.out, state.client, job_id, after, level)
        return
    for line in state.client.jobs.logs(job_id, after=after, level=level):
        _show_line(state.out, line)


def _show_line(out: Out, line: LogLine, console: Any = None) -> None:
    if out.json:
        out.line(line)
        return
    text = f"{line.time:%H:%M:%S} {line.level.upper():7} {line.step_id or '-':12} {line.message}"
    (console or out.console).print(text, markup=False)


def _follow(out: Out, client: Client, job_id: str, after: int | None = None, level: str | None = None) -> None:
    """Stream the log to the end; the job's outcome becomes the exit code (0, or 5 when it did not succeed)."""
    stream = client.jobs.logs(job_id, follow=True, after=after, level=level)
    if out.interactive:
        with Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
                      console=out.console, transient=True) as bar:
            task = bar.add_task(job_id, total=100)
            checked = 0.0
            for line in stream:
                _show_line(out, line, bar.console)
                if time.monotonic() - checked > 0.5:  # the bar's figure, at most twice a second
                    checked = time.monotonic()
                    job = client.jobs.get(job_id)
                    bar.update(task, completed=job.percent_complete, description=f"{job_id} {job.status}")
    else:
        for line in stream:
            _show_line(out, line)
    ended: Job = stream.result or client.jobs.get(job_id)
    if out.json:
        out.line(ended)
    else:
        figures = ended.statistics or {}
        out.console.print(f"{ended.id} {ended.status}" + (f" in {ended.duration_s:.1f} s" if ended.duration_s else "")
                          + (f" ({figures.get('rows_read', 0)} rows read, {figures.get('rows_written', 0)} "
                             "written)" if figures else "") + (f": {ended.error}" if ended.error else ""), markup=False)
    if ended.status != "succeeded":
        raise click.exceptions.Exit(job_exit_code(ended.status))
