"""Several API processes on one port (DOCC_WORKERS): forked copies of the server sharing one PostgreSQL.

Each process is a whole server (its own event loop, connections, engine) listening on the same port with
SO_REUSEPORT, so the kernel spreads connections across them. The parent migrates the database and checks
the secret key once, before forking, so no two processes race to migrate; then it only supervises: a
SIGTERM or SIGINT is passed on to every process, and when one of them exits the others are stopped too
(a service manager restarts the whole set).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable

from aiohttp.web_runner import GracefulExit

from server.config import Settings

log = logging.getLogger("docc")


def _prepare(settings: Settings) -> None:
    from server.crypto.stored import secrets_at_rest
    from server.db import database

    async def run() -> None:
        async with database(settings.database_url), secrets_at_rest(settings):
            pass

    asyncio.run(run())


def serve_processes(settings: Settings, serve_one: Callable[[], None]) -> int:
    """Fork `settings.workers` processes that each run `serve_one()`; return once they have all stopped."""
    _prepare(settings)
    children: list[int] = []
    for _ in range(settings.workers):
        pid = os.fork()
        if pid == 0:  # the child: a whole server, then out without running the parent's cleanup
            code = 0
            try:
                serve_one()
            except GracefulExit:  # a second stop request while shutting down: still the stop asked for
                pass
            except BaseException:  # anything that ends a child is logged, and ends it
                log.exception("Server process failed")
                code = 1
            finally:
                os._exit(code)
        children.append(pid)
    log.info("Started %d server processes on port %s: %s", len(children), settings.port, children)

    stopping: list[bool] = []
    signalled: set[int] = set()

    def stop(signum: int, _frame: object) -> None:
        # Each process is asked once: a second SIGTERM would interrupt aiohttp's own shutdown.
        stopping.append(True)
        for child in children:
            if child in signalled:
                continue
            signalled.add(child)
            try:
                os.kill(child, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    failed = 0
    remaining = set(children)
    while remaining:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        if pid not in remaining:
            continue
        remaining.discard(pid)
        code = os.waitstatus_to_exitcode(status)
        # A process asked to stop before it had set up its own handlers ends by the signal itself: that
        # is the stop asked for, not a failure.
        if code != 0 and not (stopping and code == -signal.SIGTERM):
            failed = 1
        if remaining:
            log.info("Server process %d exited (%d): stopping the others", pid, code)
            stop(signal.SIGTERM, None)
    return failed
