"""The `docc` command line: datasets, pipelines and jobs from the terminal and from CI jobs."""

from __future__ import annotations

from typing import Any

import click

from docc import errors
from docc.cli.output import Out, exit_code
from docc.client import Client


class Context:
    """What every command gets: the output mode and (made on first use) a client."""

    def __init__(self, url: str | None, api_key: str | None, profile: str | None, output: str) -> None:
        self.url, self.api_key, self.profile = url, api_key, profile
        self.out = Out(output)
        self._client: Client | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = Client(self.url, self.api_key, profile=self.profile)
        return self._client


pass_context = click.make_pass_decorator(Context)


class Main(click.Group):
    """Turns the SDK's errors into a message and the exit code that names the outcome."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except errors.DoccError as error:
            state = ctx.find_object(Context)
            (state.out if state else Out("table")).fail(error)
            ctx.exit(exit_code(error))


@click.group(cls=Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--url", envvar="DOCC_URL", help="Server URL (DOCC_URL; default: the profile's, else http://127.0.0.1:8000).")
@click.option("--api-key", envvar="DOCC_API_KEY", help="API key (DOCC_API_KEY; default: the profile's).")
@click.option("--profile", envvar="DOCC_PROFILE", help="Profile of the config file (default: 'default').")
@click.option("--output", "-o", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="Tables for people, JSON for scripts.")
@click.version_option(package_name="docc-python-sdk", prog_name="docc")
@click.pass_context
def cli(ctx: click.Context, url: str | None, api_key: str | None, profile: str | None, output: str) -> None:
    """The DOCC data control plane from the command line."""
    ctx.obj = Context(url, api_key, profile, output)
    ctx.call_on_close(lambda: ctx.obj._client and ctx.obj._client.close())


def main() -> None:
    cli(prog_name="docc")


from docc.cli import commands  # noqa: E402,F401  (registers the commands on `cli`)

__all__ = ["cli", "main"]

if __name__ == "__main__":  # pragma: no cover
    main()
