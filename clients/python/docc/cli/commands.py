"""`docc login` and `docc datasets ...`; pipelines and jobs are in docc.cli.runs."""

from __future__ import annotations

import itertools
from typing import Any

import click

from docc import errors
from docc.cli import Context, cli, pass_context
from docc.cli.output import read_document
from docc.client import Client
from docc.config import resolve, save_profile

DATASET_COLUMNS = ("id", "name", "status", "tags", "quality_score", "updated_at")
VERSION_COLUMNS = ("version", "compatibility", "forced", "created_by", "created_at")


def limited(items: Any, limit: int | None) -> Any:
    return items if limit is None else itertools.islice(items, limit)


@cli.command()
@click.option("--api-key", "key", help="The key to store (asked for when not given).")
@click.option("--url", "login_url", help="The server's URL to store with it.")
@pass_context
def login(state: Context, key: str | None, login_url: str | None) -> None:
    """Check an API key against the server and store it for the profile."""
    settings = resolve(login_url or state.url, profile=state.profile)
    key = key or state.api_key or click.prompt("API key", hide_input=True)
    with Client(settings.url, key, profile=settings.profile) as client:
        try:
            next(iter(client.datasets.list()), None)
        except errors.Forbidden:
            pass  # a valid key without read:datasets: still a key of this server
    path = save_profile(settings.profile, {"url": settings.url, "api_key": key})
    state.out.errors.print(f"Stored the key for profile '{settings.profile}' ({settings.url}) in {path}")


@cli.group()
def datasets() -> None:
    """Datasets, their schemas and schema history."""


@datasets.command("list")
@click.option("--name", help="Part of the name, any case.")
@click.option("--tag", "tags", multiple=True, help="A tag every dataset listed has (repeatable).")
@click.option("--status", type=click.Choice(["active", "inactive", "deprecated"]))
@click.option("--source-type", type=click.Choice(["database", "file"]))
@click.option("--limit", type=click.IntRange(min=1), help="At most this many.")
@pass_context
def list_datasets(state: Context, name: str | None, tags: tuple[str, ...], status: str | None,
                  source_type: str | None, limit: int | None) -> None:
    """List datasets."""
    found = state.client.datasets.list(name=name, tags=tags or None, status=status, source_type=source_type)
    state.out.table(limited(found, limit), DATASET_COLUMNS)


@datasets.command("get")
@click.argument("dataset_id")
@pass_context
def get_dataset(state: Context, dataset_id: str) -> None:
    """Show one dataset."""
    state.out.record(state.client.datasets.get(dataset_id))


@datasets.command("create")
@click.option("-f", "--file", "path", required=True, help="The dataset as JSON or YAML (- for standard input).")
@pass_context
def create_dataset(state: Context, path: str) -> None:
    """Create a dataset from a file."""
    state.out.record(state.client.datasets.create(read_document(path)))


@datasets.command("delete")
@click.argument("dataset_id")
@pass_context
def delete_dataset(state: Context, dataset_id: str) -> None:
    """Delete a dataset and its schema history."""
    state.client.datasets.delete(dataset_id)
    state.out.errors.print(f"Deleted {dataset_id}")


@datasets.group()
def schema() -> None:
    """A dataset's schema: show, check a change, store a change, history."""


def _fields(path: str) -> Any:
    document = read_document(path)
    return document.get("schema", document) if isinstance(document, dict) else document


@schema.command("get")
@click.argument("dataset_id")
@pass_context
def get_schema(state: Context, dataset_id: str) -> None:
    """The current schema version."""
    version = state.client.datasets.schema(dataset_id)
    if state.out.json:
        state.out.document(version)
        return
    state.out.errors.print(f"{dataset_id} schema version {version.version} ({version.compatibility})")
    state.out.table(version.fields, ("name", "type", "nullable", "description"))


@schema.command("validate")
@click.argument("dataset_id")
@click.option("-f", "--file", "path", required=True, help="The proposed schema (JSON or YAML).")
@click.option("--compatibility", help="Check against this mode instead of the dataset's.")
@pass_context
def validate_schema(state: Context, dataset_id: str, path: str, compatibility: str | None) -> None:
    """Check a schema change without storing it; exits 6 when it is incompatible."""
    report = state.client.datasets.validate_schema(dataset_id, _fields(path), compatibility=compatibility)
    if state.out.json:
        state.out.document(report)
    else:
        verdict = "compatible" if report.compatible else "[red]incompatible[/red]"
        state.out.console.print(f"{verdict} under {report.compatibility} (current version {report.current_version})")
        state.out.table(report.changes, ("change", "field", "old", "new", "breaks_backward", "breaks_forward",
                                         "reason"))
    if not report.compatible:
        raise click.exceptions.Exit(6)


@schema.command("update")
@click.argument("dataset_id")
@click.option("-f", "--file", "path", required=True, help="The new schema (JSON or YAML).")
@click.option("--force", is_flag=True, help="Store it even if incompatible.")
@pass_context
def update_schema(state: Context, dataset_id: str, path: str, force: bool) -> None:
    """Store a new schema version."""
    state.out.record(state.client.datasets.update_schema(dataset_id, _fields(path), force=force))


@schema.command("history")
@click.argument("dataset_id")
@pass_context
def schema_history(state: Context, dataset_id: str) -> None:
    """Schema versions, newest first."""
    state.out.table(state.client.datasets.history(dataset_id), VERSION_COLUMNS)


from docc.cli import quality, runs  # noqa: E402,F401  (registers pipelines, jobs, quality and events)
