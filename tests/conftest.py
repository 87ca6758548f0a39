"""Fixtures shared by every test directory: the production stack (PostgreSQL and Redis).

``production_stack`` starts the session's own PostgreSQL and Redis with ``tda-stack up postgres
redis`` in a private stack directory on free loopback ports, so that test runs in parallel checkouts
and a developer's own ``tda-stack`` never meet, and takes them down at the end. Nothing is skipped:
a stack that cannot start fails the tests that need it, with tda-stack's message.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from stack_support import ProductionStack


@pytest.fixture(scope="session")
def production_stack() -> Iterator[ProductionStack]:
    # Not under pytest's tmp_path: PostgreSQL runs as the `postgres` user, who must reach it.
    root = Path(tempfile.mkdtemp(prefix="tda-test-stack-"))
    root.chmod(0o755)
    instance = ProductionStack(root)
    try:
        instance.up()
        migrated = subprocess.run(
            [sys.executable, "-m", "tda_backend.cli", "migrate"],
            env={**instance.env, "DATABASE_URL": instance.database_url, "LOG_LEVEL": "WARNING"},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert migrated.returncode == 0, migrated.stderr
        yield instance
    finally:
        instance.stack("down", "postgres", "redis")
        shutil.rmtree(root, ignore_errors=True)
