"""``tda-stack`` for PostgreSQL and Redis: idempotent ``up``, ``status``, ``env``."""

from __future__ import annotations

import pytest
from stack_support import ProductionStack

pytestmark = [pytest.mark.integration]


def test_up_again_changes_nothing_and_env_prints_the_urls(stack: ProductionStack) -> None:
    before = stack.stack("status", "postgres", "redis")
    assert before.returncode == 0, before.stdout + before.stderr
    assert before.stdout.count("running (pid") == 2
    again = stack.stack("up", "postgres", "redis")
    assert again.returncode == 0, again.stderr
    assert stack.stack("status", "postgres", "redis").stdout == before.stdout  # same pids
    env = stack.stack("env", "postgres", "redis")
    assert env.returncode == 0, env.stderr
    assert env.stdout.splitlines() == [
        f"export DATABASE_URL={stack.database_url}",
        f"export REDIS_URL={stack.redis_url}",
    ]
    assert stack.sql("SELECT current_user").strip() == "tda"
