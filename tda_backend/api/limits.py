"""Request-rate limits per API key: ``RATE_LIMIT_PER_MINUTE`` requests to ``/api/v1`` per minute.

A caller over its limit gets 429 with ``Retry-After`` (whole seconds until a request would pass).
Identities are API-key fingerprints when ``API_KEYS`` is set, client addresses otherwise.

``TokenBucketLimiter`` (the default) keeps its buckets in the process: with ``API_WORKERS`` > 1
each process grants the rate by itself. ``RedisRateLimiter`` (used when ``REDIS_URL`` is set)
keeps the same buckets in Redis, shared by every process. When Redis cannot be reached the
request passes: a limiter must not turn a cache outage into an API outage.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from tda_backend.config import Settings
from tda_backend.services.telemetry import get_logger

log = get_logger(__name__)

WINDOW_S = 60.0


class RateLimiter(Protocol):
    async def acquire(self, identity: str) -> float | None:
        """Count one request of ``identity``; None when it may pass, else the seconds to wait."""

    async def close(self) -> None: ...


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class TokenBucketLimiter:
    """``per_minute`` tokens per identity, refilled continuously; a request takes one.

    A full bucket allows a burst of ``per_minute`` requests, after which requests pass at the
    refill rate. Buckets that have refilled completely are forgotten, so memory stays bounded by
    the identities active in the last minute.
    """

    per_minute: int
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _last_sweep: float = 0.0

    async def acquire(self, identity: str) -> float | None:
        return self.take(identity)

    def take(self, identity: str) -> float | None:
        rate = self.per_minute / WINDOW_S  # tokens per second
        with self._lock:
            now = self.clock()
            self._sweep(now, rate)
            bucket = self._buckets.get(identity)
            if bucket is None:
                bucket = self._buckets[identity] = _Bucket(float(self.per_minute), now)
            bucket.tokens = min(
                float(self.per_minute), bucket.tokens + (now - bucket.updated) * rate
            )
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return None
            return (1.0 - bucket.tokens) / rate

    def _sweep(self, now: float, rate: float) -> None:
        if now - self._last_sweep < WINDOW_S:
            return
        self._last_sweep = now
        full = [
            identity
            for identity, bucket in self._buckets.items()
            if bucket.tokens + (now - bucket.updated) * rate >= self.per_minute
        ]
        for identity in full:
            del self._buckets[identity]

    async def close(self) -> None:
        return None


# The token bucket of TokenBucketLimiter, kept in a Redis hash and updated atomically; the clock is
# the Redis server's, so processes on hosts with skewed clocks share one timeline.
_TAKE_TOKEN = """
local per_minute = tonumber(ARGV[1])
local rate = per_minute / 60.0
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1e6
local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens = tonumber(state[1]) or per_minute
local updated = tonumber(state[2]) or now
tokens = math.min(per_minute, tokens + math.max(0, now - updated) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now))
redis.call('EXPIRE', KEYS[1], 61)
return tostring(wait)
"""


@dataclass
class RedisRateLimiter:
    """TokenBucketLimiter's buckets in Redis, shared by every process and host."""

    per_minute: int
    client: Any  # redis.asyncio.Redis
    prefix: str = "tda:rate:"
    _script: Any = None

    @classmethod
    def from_url(cls, per_minute: int, url: str) -> RedisRateLimiter:
        import redis.asyncio

        client = redis.asyncio.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        return cls(per_minute, client)

    async def acquire(self, identity: str) -> float | None:
        if self._script is None:
            self._script = self.client.register_script(_TAKE_TOKEN)
        try:
            wait = float(await self._script(keys=[self.prefix + identity], args=[self.per_minute]))
        except Exception:
            log.warning("rate limiter: Redis unreachable; request let through", exc_info=True)
            return None
        return None if wait == 0 else wait

    async def close(self) -> None:
        await self.client.aclose()


def make_limiter(settings: Settings) -> RateLimiter | None:
    """The limiter the settings ask for; None when ``RATE_LIMIT_PER_MINUTE`` is 0."""
    if settings.rate_limit_per_minute == 0:
        return None
    if settings.redis_url is not None:
        return RedisRateLimiter.from_url(settings.rate_limit_per_minute, settings.redis_url)
    return TokenBucketLimiter(settings.rate_limit_per_minute)


def retry_after_header(seconds: float) -> str:
    """``Retry-After`` in whole seconds, never 0 (a client told 0 would retry at once)."""
    return str(max(1, math.ceil(seconds)))
