"""A real server for tests that talk to it over TCP (the fuzzer, the GraphQL-over-HTTP audit)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web

from resolvers.keys import KeyCreate, store_key
from server.app import create_app
from server.config import Settings
from server.db import database


def _serve(settings: Settings, key_name: str, started: threading.Event, box: dict[str, Any]) -> None:
    """The app on an ephemeral port, run as `web.run_app` would, until `box["stop"]` is set."""
    async def main() -> None:
        async with database(settings.database_url):
            box["key"] = (await store_key("ws_default", KeyCreate(name=key_name, scopes=["admin"]), key_name)).secret
        runner = web.AppRunner(create_app(settings), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        box["port"] = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        box["stop"] = asyncio.Event()
        box["loop"] = asyncio.get_running_loop()
        started.set()
        try:
            await box["stop"].wait()
        finally:
            await runner.cleanup()

    try:
        asyncio.run(main())
    except BaseException as exc:  # surfaced to the test thread
        box["error"] = exc
        started.set()


@contextmanager
def live_app(settings: Settings, key_name: str) -> Iterator[tuple[int, str]]:
    """(port, admin key) of the app serving in a thread of its own; stopped when the block ends."""
    started, box = threading.Event(), {}
    thread = threading.Thread(target=_serve, args=(settings, key_name, started, box), daemon=True)
    thread.start()
    started.wait(60)
    if "error" in box:
        raise box["error"]
    try:
        yield box["port"], box["key"]
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(60)
