"""Result cache. Embedded default: an in-process LRU; Redis can implement the same interface."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Protocol


class Cache(Protocol):
    name: str

    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes) -> None: ...


class MemoryCache:
    """A thread-safe LRU of at most ``max_items`` entries (0 disables it)."""

    name = "memory"

    def __init__(self, max_items: int) -> None:
        self._max = max_items
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def set(self, key: str, value: bytes) -> None:
        if self._max == 0:
            return
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._max:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
