"""RedisRateLimiter against a real redis-server (on a Unix socket in a temp dir): the buckets are
shared by every limiter (every server process), and an unreachable Redis lets requests through."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tda_backend.api.limits import RedisRateLimiter

BACKENDS = ["embedded"]


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server is not installed (scripts/bootstrap.sh installs it)")
    socket = tmp_path / "redis.sock"
    process = subprocess.Popen(
        [server, "--port", "0", "--unixsocket", str(socket), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 10
        while not socket.exists():
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.02)
        yield f"unix://{socket}"
    finally:
        process.terminate()
        process.wait(timeout=10)


async def test_buckets_are_shared_between_processes(redis_url: str) -> None:
    one = RedisRateLimiter.from_url(30, redis_url)
    two = RedisRateLimiter.from_url(30, redis_url)
    try:
        granted = [await (one if i % 2 else two).acquire("key-a") for i in range(30)]
        assert granted == [None] * 30
        wait = await one.acquire("key-a")
        assert wait is not None
        assert 0 < wait <= 2.0  # one token per 2 s at 30 per minute
        assert await two.acquire("key-a") is not None
        assert await two.acquire("key-b") is None
    finally:
        await one.close()
        await two.close()


async def test_an_unreachable_redis_lets_requests_through(tmp_path: Path) -> None:
    limiter = RedisRateLimiter.from_url(1, f"unix://{tmp_path / 'nothing.sock'}")
    try:
        assert [await limiter.acquire("k") for _ in range(3)] == [None, None, None]
    finally:
        await limiter.close()
