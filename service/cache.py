"""One small bounded cache for what a process may reuse for a while (client rows, verified
tokens): a dict that forgets its oldest entry when full and, given a lifetime, serves an
entry only for that long. A plain dict stays the fastest lookup on the hot path."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Cache(Generic[K, V]):
    def __init__(
        self, size: int, ttl: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._size = size
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self._ttl is not None and self._clock() - entry[0] >= self._ttl:
            return None
        return entry[1]

    def put(self, key: K, value: V) -> None:
        self._entries.pop(key, None)  # a new value counts as the newest entry
        if len(self._entries) >= self._size:
            del self._entries[next(iter(self._entries))]  # the oldest entry
        self._entries[key] = (self._clock() if self._ttl is not None else 0.0, value)

    def pop(self, key: K) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
