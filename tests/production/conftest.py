"""Fixtures of the production-mode fault tests: a fleet on the session's private stack, emptied
before each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fleet import Fleet
from stack_support import ProductionStack, free_port


@pytest.fixture
def stack(production_stack: ProductionStack) -> Iterator[ProductionStack]:
    production_stack.up()  # a test that took a server down may have failed before bringing it up
    production_stack.sql("TRUNCATE blobs, results, jobs, datasets")
    with redis.Redis.from_url(production_stack.redis_url) as client:
        client.flushdb()
    yield production_stack
    production_stack.up()


@pytest.fixture
def fleet_factory(stack: ProductionStack, tmp_path: Path) -> Iterator[Any]:
    fleets: list[Fleet] = []

    def make(**env: str) -> Fleet:
        fleet = Fleet(stack, tmp_path / f"fleet{len(fleets)}", free_port(), **env)
        fleets.append(fleet)
        return fleet

    yield make
    for fleet in fleets:
        fleet.stop()
