"""Result cache. Embedded default: an in-process LRU; production mode: Redis, shared by every
process, entries expiring after ``CACHE_TTL_S``. A cache is only a shortcut: the database and the
blob store hold every result, so a cache that fails or forgets is answered from them."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Protocol

from tda_backend.services.telemetry import get_logger

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = get_logger(__name__)


class Cache(Protocol):
    name: str

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes) -> None: ...


class MemoryCache:
    """A thread-safe LRU of at most ``max_items`` entries (0 disables it)."""

    name = "memory"

    def __init__(self, max_items: int) -> None:
        self._max = max_items
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    async def get(self, key: str) -> bytes | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    async def set(self, key: str, value: bytes) -> None:
        if self._max == 0:
            return
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._max:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class RedisCache:
    """Results under ``<prefix>result:<key>`` with a TTL. Errors are logged and read as misses."""

    name = "redis"
    MAX_VALUE_BYTES = 16 * 1024 * 1024  # larger documents are read from the blob store

    def __init__(self, client: Redis, prefix: str, ttl_s: float) -> None:
        self._client = client
        self._prefix = f"{prefix}result:"
        self._ttl_ms = max(int(ttl_s * 1000), 1)

    async def get(self, key: str) -> bytes | None:
        try:
            value: bytes | None = await self._client.get(self._prefix + key)
        except Exception as exc:
            log.warning("redis cache read failed", error=f"{type(exc).__name__}: {exc}")
            return None
        return value

    async def set(self, key: str, value: bytes) -> None:
        if len(value) > self.MAX_VALUE_BYTES:
            return
        try:
            await self._client.set(self._prefix + key, value, px=self._ttl_ms)
        except Exception as exc:
            log.warning("redis cache write failed", error=f"{type(exc).__name__}: {exc}")
