"""The app in-process (httpx over ASGI, lifespan run), on each backend.

Every test runs twice: on the embedded default (SQLite and files in a temp dir, in-process
workers), and on the production mode (PostgreSQL with the blobs in the database, the Redis cache
and queue, and a worker computing from the queue) on the session's private stack, emptied before
each test. A module may narrow that with a module-level ``BACKENDS`` list.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import api_helpers
import httpx
import pytest
import redis
from api_helpers import make_settings, serving
from fastapi import FastAPI

from tda_backend.config import Settings

BACKENDS = ["embedded", "production"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        backends = getattr(metafunc.module, "BACKENDS", BACKENDS)
        metafunc.parametrize("backend", backends, indirect=True)


@pytest.fixture(autouse=True)
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    name: str = request.param
    if name == "production":
        stack = request.getfixturevalue("production_stack")
        stack.sql("TRUNCATE blobs, results, jobs, datasets")
        with redis.Redis.from_url(stack.redis_url) as client:
            client.flushdb()
        api_helpers.BACKEND_SETTINGS.update(
            database_url=stack.database_url, redis_url=stack.redis_url
        )
    try:
        yield name
    finally:
        api_helpers.BACKEND_SETTINGS.clear()


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module (or with indirect parametrization) to change the settings."""
    return {}


@pytest.fixture
def settings(tmp_path: Path, settings_overrides: dict[str, Any]) -> Settings:
    return make_settings(tmp_path, **settings_overrides)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    async with serving(settings) as application:
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c
