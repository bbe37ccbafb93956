"""The two runners that carry out flows' commands: one over httpx.Client, one over httpx.AsyncClient."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from typing import Any, Generic, TypeVar

import httpx

from docc._core import Answer, Call, Close, Emit, Flow, Items, Open, ReadLine, RetryPolicy, Send, Sleep
from docc.errors import DoccError, error_from_envelope

T = TypeVar("T")
# What a runner hands back into a flow instead of a result: the flow decides whether to retry.
THROWN = (httpx.TransportError, DoccError)


def _request(http: httpx.Client | httpx.AsyncClient, call: Call[Any]) -> httpx.Request:
    headers = {"Accept": "application/json", **call.headers}
    return http.build_request(call.method, call.path, params=call.params, json=call.json, headers=headers)


def _answer(response: httpx.Response) -> Answer:
    body: Any = None
    if response.content:
        try:
            body = response.json()
        except ValueError:
            body = response.text
    return Answer(response.status_code, response.headers, body)


def _error(response: httpx.Response) -> DoccError:
    answer = _answer(response)
    return error_from_envelope(answer.status, answer.body, answer.headers)


class Stream:
    """The items of an iterating flow, and once it ended, what it returned (`result`)."""

    result: Any = None


class SyncRunner:
    def __init__(self, http: httpx.Client, policy: RetryPolicy) -> None:
        self.http = http
        self.policy = policy

    def _do(self, command: Any, handles: list[httpx.Response]) -> Any:
        if isinstance(command, Send):
            return _answer(self.http.send(_request(self.http, command.call)))
        if isinstance(command, Sleep):
            time.sleep(command.seconds)
            return None
        if isinstance(command, Open):
            response = self.http.send(_request(self.http, command.call), stream=True)
            if response.status_code >= 400:
                response.read()
                response.close()
                raise _error(response)
            handles.append(response)
            return (response, response.iter_lines())
        if isinstance(command, ReadLine):
            return next(command.handle[1], None)
        if isinstance(command, Close):
            command.handle[0].close()
            return None
        raise TypeError(f"Unknown command {command!r}")

    def _drive(self, flow: Flow[Any], box: Stream) -> Generator[Any, None, None]:
        handles: list[httpx.Response] = []
        value: Any = None
        thrown: BaseException | None = None
        try:
            while True:
                try:
                    command = flow.throw(thrown) if thrown is not None else flow.send(value)
                except StopIteration as stop:
                    box.result = stop.value
                    return
                value, thrown = None, None
                if isinstance(command, Emit):
                    yield command.item
                    continue
                try:
                    value = self._do(command, handles)
                except THROWN as exc:
                    thrown = exc
        finally:
            flow.close()
            for response in handles:
                response.close()

    def run(self, flow: Flow[T]) -> T:
        box = Stream()
        for item in self._drive(flow, box):
            raise TypeError(f"A value flow emitted {item!r}")
        return box.result  # type: ignore[no-any-return]

    def iterate(self, items: Items[T]) -> SyncStream[T]:
        return SyncStream(self, items.flow)


class SyncStream(Stream, Generic[T]):
    """Iterate to get the items; `result` holds what the flow answered at its end (e.g. a log's final job)."""

    def __init__(self, runner: SyncRunner, flow: Flow[Any]) -> None:
        self._items = runner._drive(flow, self)

    def __iter__(self) -> Iterator[T]:
        return self._items

    def __next__(self) -> T:
        return next(self._items)  # type: ignore[no-any-return]

    def close(self) -> None:
        """Stop early: the open response is closed (a never-ending feed is left this way)."""
        self._items.close()

    def __enter__(self) -> SyncStream[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncRunner:
    def __init__(self, http: httpx.AsyncClient, policy: RetryPolicy) -> None:
        self.http = http
        self.policy = policy

    async def _do(self, command: Any, handles: list[httpx.Response]) -> Any:
        if isinstance(command, Send):
            return _answer(await self.http.send(_request(self.http, command.call)))
        if isinstance(command, Sleep):
            await asyncio.sleep(command.seconds)
            return None
        if isinstance(command, Open):
            response = await self.http.send(_request(self.http, command.call), stream=True)
            if response.status_code >= 400:
                await response.aread()
                await response.aclose()
                raise _error(response)
            handles.append(response)
            return (response, response.aiter_lines())
        if isinstance(command, ReadLine):
            return await anext(command.handle[1], None)
        if isinstance(command, Close):
            await command.handle[0].aclose()
            return None
        raise TypeError(f"Unknown command {command!r}")

    async def _drive(self, flow: Flow[Any], box: Stream) -> AsyncGenerator[Any, None]:
        handles: list[httpx.Response] = []
        value: Any = None
        thrown: BaseException | None = None
        try:
            while True:
                try:
                    command = flow.throw(thrown) if thrown is not None else flow.send(value)
                except StopIteration as stop:
                    box.result = stop.value
                    return
                value, thrown = None, None
                if isinstance(command, Emit):
                    yield command.item
                    continue
                try:
                    value = await self._do(command, handles)
                except THROWN as exc:
                    thrown = exc
        finally:
            flow.close()
            for response in handles:
                await response.aclose()

    async def run(self, flow: Flow[T]) -> T:
        box = Stream()
        async for item in self._drive(flow, box):
            raise TypeError(f"A value flow emitted {item!r}")
        return box.result  # type: ignore[no-any-return]

    def iterate(self, items: Items[T]) -> AsyncStream[T]:
        return AsyncStream(self, items.flow)


class AsyncStream(Stream, Generic[T]):
    """`async for` gets the items; `result` holds what the flow answered at its end."""

    def __init__(self, runner: AsyncRunner, flow: Flow[Any]) -> None:
        self._items = runner._drive(flow, self)

    def __aiter__(self) -> AsyncIterator[T]:
        return self._items

    async def __anext__(self) -> T:
        return await anext(self._items)  # type: ignore[no-any-return]

    async def aclose(self) -> None:
        """Stop early: the open response is closed (a never-ending feed is left this way)."""
        await self._items.aclose()

    async def __aenter__(self) -> AsyncStream[T]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
