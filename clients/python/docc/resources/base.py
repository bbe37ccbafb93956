"""Resources are written once, over a runner: `Client` gives them a sync runner, `AsyncClient` an async one.

A resource method builds a flow (see docc._core); the `operation` and `listing` descriptors hand it to the
runner of the client it belongs to, and tell type checkers what each client answers: `T` from a `Client`,
an awaitable `T` from an `AsyncClient`, a lazy iterator of `T` (sync or async) for lists.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from docc._core import Answer, Call, Flow, Items, paginate, request
from docc._runner import AsyncRunner, AsyncStream, SyncRunner, SyncStream

P = ParamSpec("P")
T = TypeVar("T")
M = TypeVar("M")
R = TypeVar("R", bound=SyncRunner | AsyncRunner)


class Resource(Generic[R]):
    def __init__(self, runner: R) -> None:
        self._runner: R = runner

    def _request(self, call: Call[T]) -> Flow[T]:
        return request(call, self._runner.policy)

    def _pages(self, call: Call[list[T]]) -> Items[T]:
        return Items(paginate(call, self._runner.policy))


class operation(Generic[P, T]):
    """A method answering one value: `T` from a Client, a coroutine of `T` from an AsyncClient."""

    def __init__(self, build: Callable[Concatenate[Any, P], Flow[T]]) -> None:
        self.build = build
        functools.update_wrapper(self, build)  # type: ignore[arg-type]

    @overload
    def __get__(self, obj: None, owner: type) -> operation[P, T]: ...
    @overload
    def __get__(self, obj: Resource[SyncRunner], owner: type) -> Callable[P, T]: ...
    @overload
    def __get__(self, obj: Resource[AsyncRunner], owner: type) -> Callable[P, Coroutine[Any, Any, T]]: ...

    def __get__(self, obj: Any, owner: type) -> Any:
        if obj is None:
            return self
        build, runner = self.build, obj._runner

        @functools.wraps(build)
        def bound(*args: Any, **kwargs: Any) -> Any:
            return runner.run(build(obj, *args, **kwargs))

        return bound


class listing(Generic[P, T]):
    """A method answering many values, fetched page by page as they are consumed (`for`, or `async for`)."""

    def __init__(self, build: Callable[Concatenate[Any, P], Items[T]]) -> None:
        self.build = build
        functools.update_wrapper(self, build)  # type: ignore[arg-type]

    @overload
    def __get__(self, obj: None, owner: type) -> listing[P, T]: ...
    @overload
    def __get__(self, obj: Resource[SyncRunner], owner: type) -> Callable[P, SyncStream[T]]: ...
    @overload
    def __get__(self, obj: Resource[AsyncRunner], owner: type) -> Callable[P, AsyncStream[T]]: ...

    def __get__(self, obj: Any, owner: type) -> Any:
        if obj is None:
            return self
        build, runner = self.build, obj._runner

        @functools.wraps(build)
        def bound(*args: Any, **kwargs: Any) -> Any:
            return runner.iterate(build(obj, *args, **kwargs))

        return bound


def one(model: Callable[[Any], T]) -> Callable[[Answer], T]:
    return lambda answer: model(answer.body)


def rows(model: Callable[[Any], T]) -> Callable[[Answer], list[T]]:
    return lambda answer: [model(item) for item in answer.body["data"]]


def nothing(_answer: Answer) -> None:
    return None


def body_of(model: type[Any], given: Any, fields: dict[str, Any]) -> dict[str, Any]:
    """A request body from a model instance, a dict, or keyword arguments, checked by the model first."""
    if given is not None and fields:
        raise TypeError("Pass either a model/dict or keyword arguments, not both")
    if isinstance(given, model):
        return given.body()  # type: ignore[no-any-return]
    data = dict(given) if given is not None else {k: v for k, v in fields.items()}
    return model.model_validate(data).body()  # type: ignore[no-any-return]
