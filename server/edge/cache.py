"""A bounded least-recently-used map for answers kept in memory: the REST list pages and GraphQL reads share it.

Nothing here expires by a timer: each surface puts the version its answer was built from in the key, so an
entry of an older version is simply never asked for again and falls out as newer ones come in.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class LruCache(Generic[K, V]):
    """At most `capacity` entries; reading one makes it the newest, and the oldest goes first when full."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[K, V] = OrderedDict()
        # Counted for tests and for anyone sizing the cache: lookups that found an entry, and those that did not.
        self.hits = 0
        self.misses = 0

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(key)
        return entry

    def get_many(self, keys: list[K]) -> list[V | None]:
        """`get` of each key in turn, in one call (a page's rows)."""
        entries, found = self._entries, []
        for key in keys:
            entry = entries.get(key)
            if entry is not None:
                entries.move_to_end(key)
            found.append(entry)
        hits = sum(entry is not None for entry in found)
        self.hits += hits
        self.misses += len(found) - hits
        return found

    def put(self, key: K, entry: V) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
