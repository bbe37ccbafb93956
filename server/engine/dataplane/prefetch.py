"""Run an iterator one step ahead on its own thread, so producing the next item overlaps consuming this one.

A staged write is a loop of two native calls that both release the GIL: Polars computes a batch, then
the database driver ingests it. Run in one thread they take turns; with the producer on a thread of its
own, Polars computes batch n+1 while the driver writes batch n.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


class _Failed:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetched(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Yield what `items` yields, in order, pulling up to `depth` items ahead on a worker thread.

    An error raised by `items` is raised here, at the point where its item would have come. When the
    consumer stops early (an error of its own, a cancel, `close()`), the worker is told to stop and is
    joined before this generator finishes: it never outlives the call, and `items` is closed.
    """
    slots: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: object) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer(item):
                    return
        except BaseException as exc:  # Handed to the consumer, which raises it.
            offer(_Failed(exc))
            return
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()  # A source stopped early releases what it holds, on the thread that ran it.
        offer(_DONE)

    worker = threading.Thread(target=produce, name="docc-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = slots.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()
