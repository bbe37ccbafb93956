"""Command line: `docc-server [serve]`, `migrate`, `worker`, `create-key`, `export-schema`,
`rotate-secrets`, `generate-secret-key`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from aiohttp import web

from server.config import Settings, SettingsError
from server.crypto.keys import SecretsError
from server.logs import configure_logging

log = logging.getLogger("docc")


def _serve(settings: Settings, _args: argparse.Namespace) -> int:
    from server.app import create_app

    log.info("Starting DOCC server on http://%s:%s", settings.host, settings.port)
    web.run_app(create_app(settings), host=settings.host, port=settings.port, print=None,
                access_log=None)
    return 0


def _migrate(settings: Settings, _args: argparse.Namespace) -> int:
    from server.crypto.stored import secrets_at_rest
    from server.db import database

    async def run() -> None:
        async with database(settings.database_url), secrets_at_rest(settings):
            log.info("Database is up to date")

    asyncio.run(run())
    return 0


def _worker(settings: Settings, _args: argparse.Namespace) -> int:
    from server.engine.worker import run_worker

    asyncio.run(run_worker(settings))
    return 0


def _create_key(settings: Settings, args: argparse.Namespace) -> int:
    from resolvers.errors import DoccError
    from resolvers.keys import KeyCreate, store_key
    from resolvers.validation import parse
    from server.crypto.stored import secrets_at_rest
    from server.db import database
    from server.models.core import Workspace

    data = {"name": args.name, "scopes": [s.strip() for s in args.scopes.split(",") if s.strip()]}
    if args.expires_in:
        data["expires_in"] = args.expires_in

    async def run() -> str:
        async with database(settings.database_url), secrets_at_rest(settings):
            if not await Workspace.filter(id=args.workspace).exists():
                raise SystemExit(f"docc-server: no workspace '{args.workspace}'")
            created = await store_key(args.workspace, parse(KeyCreate, data, "API key"), "cli")
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


def _rotate_secrets(settings: Settings, _args: argparse.Namespace) -> int:
    from server.crypto.stored import reseal, secrets_at_rest
    from server.db import database

    async def run() -> tuple[int, int]:
        async with database(settings.database_url), secrets_at_rest(settings) as keyring:
            return await reseal(keyring, only_plaintext=False)

    written, skipped = asyncio.run(run())
    if skipped:
        print(f"docc-server: re-encrypted {written} secret(s); {skipped} changed while rotating: "
              "run rotate-secrets again", file=sys.stderr)
        return 1
    print(f"Re-encrypted {written} stored secret(s) with the first key; the other keys can now be removed.")
    return 0


def _generate_secret_key(_settings: Settings, _args: argparse.Namespace) -> int:
    from cryptography.fernet import Fernet

    print(Fernet.generate_key().decode("ascii"))
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
            "create-key": _create_key, "rotate-secrets": _rotate_secrets,
            "generate-secret-key": _generate_secret_key}


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
    commands.add_parser("rotate-secrets", help="Re-encrypt every stored secret with the first key of "
                        "DOCC_SECRET_KEY (or of the key file), in one transaction.")
    commands.add_parser("generate-secret-key", help="Print a new key for DOCC_SECRET_KEY or the key file.")
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
    try:
        return COMMANDS[args.command or "serve"](settings, args)
    except SecretsError as exc:
        # A missing, unsafe or wrong key: the message names the setting to fix; no traceback.
        print(f"docc-server: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
