"""PostgreSQL LISTEN/NOTIFY relay: events published by one process reach the subscribers of the others."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import orjson
from tortoise import connections

from server.engine.bus import Event, EventBus

log = logging.getLogger("docc.bus")

CHANNEL = "docc_events"
# NOTIFY payloads are limited to 8000 bytes; a bigger event travels without its data (readers re-read).
MAX_PAYLOAD = 7_500


def is_postgres(database_url: str) -> bool:
    """True for the URLs that Tortoise opens with asyncpg."""
    return urlsplit(database_url).scheme in {"postgres", "postgresql", "asyncpg"}


def _dsn(database_url: str) -> str:
    parts = urlsplit(database_url)
    return parts._replace(scheme="postgresql", query="", fragment="").geturl()


class PgRelay:
    """Sends events with pg_notify on the shared connection and listens on a dedicated one."""

    def __init__(self, bus: EventBus, database_url: str) -> None:
        self.bus, self.database_url = bus, database_url
        self._listener: Any = None

    async def start(self) -> None:
        self._listener = await asyncpg.connect(_dsn(self.database_url))
        await self._listener.add_listener(CHANNEL, self._received)

    async def stop(self) -> None:
        if self._listener is not None:
            try:
                await self._listener.remove_listener(CHANNEL, self._received)
            finally:
                await self._listener.close()
                self._listener = None

    async def send(self, event: Event) -> None:
        message = {"origin": self.bus.node_id, "topic": event.topic, "kind": event.kind, "data": event.data}
        payload = orjson.dumps(message).decode()
        if len(payload.encode()) > MAX_PAYLOAD:
            message["data"] = {k: v for k, v in event.data.items() if k in {"job_id", "seq", "status"}}
            payload = orjson.dumps(message).decode()
        await connections.get("default").execute_query("SELECT pg_notify($1, $2)", [CHANNEL, payload])

    def _received(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            message = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return
        if message.get("origin") == self.bus.node_id:
            return  # Already delivered in this process.
        self.bus.deliver_local(Event(message["topic"], message["kind"], message.get("data") or {}))


@asynccontextmanager
async def relay_for(database_url: str, bus: EventBus) -> AsyncIterator[PgRelay | None]:
    """While open, events cross processes when the database is PostgreSQL (else nothing to do)."""
    if not is_postgres(database_url):
        yield None
        return
    relay = PgRelay(bus, database_url)
    await relay.start()
    bus.attach(relay)
    try:
        yield relay
    finally:
        bus.detach(relay)
        await relay.stop()
