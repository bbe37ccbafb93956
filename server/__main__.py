"""Command line: `docc-server [serve]`, `migrate`, `worker`, `create-key`, `export-schema`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from aiohttp import web

from server.config import Settings, SettingsError
from server.logs import configure_logging

log = logging.getLogger("docc")


def _serve(settings: Settings, _args: argparse.Namespace) -> int:
    from server.app import create_app

    log.info("Starting DOCC server on http://%s:%s", settings.host, settings.port)
    web.run_app(create_app(settings), host=settings.host, port=settings.port, print=None,
                access_log=None)
    return 0


def _migrate(settings: Settings, _args: argparse.Namespace) -> int:
    from server.db import database

    async def run() -> None:
        async with database(settings.database_url):
            log.info("Database is up to date")

    asyncio.run(run())
    return 0


def _worker(settings: Settings, _args: argparse.Namespace) -> int:
    from server.engine.worker import run_worker

    asyncio.run(run_worker(settings))
    return 0


def _create_key(settings: Settings, args: argparse.Namespace) -> int:
    from resolvers.errors import DoccError
    from resolvers.keys import store_key
    from server.db import database
    from server.models.core import Workspace

    data = {"name": args.name, "scopes": [s.strip() for s in args.scopes.split(",") if s.strip()]}
    if args.expires_in:
        data["expires_in"] = args.expires_in

    async def run() -> str:
        async with database(settings.database_url):
            if not await Workspace.filter(id=args.workspace).exists():
                raise SystemExit(f"docc-server: no workspace '{args.workspace}'")
            created = await store_key(args.workspace, data, "cli")
            print(f"Created API key {created.key.id} ({created.key.prefix}...) in {args.workspace} "
                  f"with scopes {','.join(created.key.scopes)}; it is shown only once:")
            return created.secret

    try:
        secret = asyncio.run(run())
    except DoccError as exc:
        print(f"docc-server: {exc.message}: {exc.details.get('reason', '')}", file=sys.stderr)
        return 2
    print(secret)
    return 0


def _export_schema(_settings: Settings, args: argparse.Namespace) -> int:
    from schema import build_schema

    sdl = build_schema().as_str() + "\n"
    if args.output == "-":
        sys.stdout.write(sdl)
    else:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(sdl)
    return 0


COMMANDS = {"serve": _serve, "migrate": _migrate, "worker": _worker, "export-schema": _export_schema,
            "create-key": _create_key}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="docc-server", description="The DOCC control plane server.")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="Run the HTTP server (the default).")
    commands.add_parser("migrate", help="Apply pending database migrations and exit.")
    commands.add_parser("worker", help="Run jobs from the database (no HTTP); stop with SIGTERM or Ctrl-C.")
    key = commands.add_parser("create-key", help="Create an API key and print it on the last line.")
    key.add_argument("--name", required=True, help="What the key is for.")
    key.add_argument("--scopes", required=True, help="Comma-separated scopes, e.g. admin or read:datasets.")
    key.add_argument("--workspace", default="ws_default", help="Workspace id (default: ws_default).")
    key.add_argument("--expires-in", default=None, help="Lifetime such as 30d, 12h or 90m (default: none).")
    export = commands.add_parser("export-schema", help="Print the GraphQL SDL.")
    export.add_argument("--output", "-o", default="-", help="File to write (default: stdout).")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `docc-server` console script."""
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"docc-server: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    return COMMANDS[args.command or "serve"](settings, args)


if __name__ == "__main__":
    sys.exit(main())
