"""The read-ahead iterator behind staged writes: order, errors where they happened, no thread left behind."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from server.engine.dataplane.prefetch import prefetched


def _workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "docc-prefetch"]


def test_items_come_in_order_and_all_of_them() -> None:
    assert list(prefetched(iter(range(1000)), depth=3)) == list(range(1000))
    assert _workers() == []


def test_an_empty_source_ends_at_once() -> None:
    assert list(prefetched(iter([]))) == []


def test_the_producer_runs_ahead_of_the_consumer() -> None:
    pulled: list[int] = []
    may_finish = threading.Event()

    def source() -> Iterator[int]:
        for n in range(5):
            pulled.append(n)
            if n == 2:
                may_finish.set()
            yield n

    items = prefetched(source(), depth=2)
    assert next(items) == 0
    # While the consumer holds item 0, the worker goes on to fetch the next ones (up to depth queued).
    assert may_finish.wait(timeout=10)
    assert pulled[:3] == [0, 1, 2]
    assert list(items) == [1, 2, 3, 4]


def test_an_error_of_the_source_is_raised_where_its_item_would_be() -> None:
    def source() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("row 3 does not parse")

    got: list[int] = []
    with pytest.raises(ValueError, match="row 3 does not parse"):
        for item in prefetched(source()):
            got.append(item)
    assert got == [1, 2]
    assert _workers() == []


def test_a_consumer_that_stops_early_stops_and_joins_the_worker() -> None:
    closed = threading.Event()

    def endless() -> Iterator[int]:
        n = 0
        try:
            while True:
                yield n
                n += 1
        finally:
            closed.set()

    items = prefetched(endless(), depth=2)
    assert [next(items) for _ in range(3)] == [0, 1, 2]
    items.close()
    assert _workers() == []
    assert closed.is_set()


def test_an_error_of_the_consumer_stops_the_worker() -> None:
    items = prefetched(iter(range(10_000)), depth=1)
    with pytest.raises(RuntimeError):
        for item in items:
            if item == 5:
                raise RuntimeError("cancelled")
    items.close()
    assert _workers() == []
