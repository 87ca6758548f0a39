"""The production stack of the tests: a private PostgreSQL and Redis driven through ``tda-stack``
(see the ``production_stack`` fixture in tests/conftest.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ProductionStack:
    """A private PostgreSQL + Redis, driven through ``tda-stack``."""

    root: Path
    postgres_port: int = field(default_factory=free_port)
    redis_port: int = field(default_factory=free_port)

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "TDA_STACK_DIR": str(self.root),
            "TDA_STACK_POSTGRES_PORT": str(self.postgres_port),
            "TDA_STACK_REDIS_PORT": str(self.redis_port),
        }

    @property
    def database_url(self) -> str:
        return f"postgresql+asyncpg://tda:tda@127.0.0.1:{self.postgres_port}/tda"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def stack(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tda_backend.stack", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )

    def up(self, *services: str) -> None:
        started = self.stack("up", *(services or ("postgres", "redis")))
        if started.returncode != 0:
            pytest.fail(
                f"tda-stack up failed (exit {started.returncode}):\n{started.stdout}"
                f"{started.stderr}",
                pytrace=False,
            )

    def down(self, *services: str) -> None:
        stopped = self.stack("down", *(services or ("postgres", "redis")))
        assert stopped.returncode == 0, stopped.stderr

    def restart(self, service: str, *, pause_s: float = 0.0) -> None:
        self.down(service)
        time.sleep(pause_s)
        self.up(service)

    def sql(self, statement: str) -> str:
        """Run SQL with psql over TCP (as the stack's superuser)."""
        done = subprocess.run(
            [
                "/usr/lib/postgresql/15/bin/psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.postgres_port),
                "-U",
                "tda",
                "-d",
                "tda",
                "-v",
                "ON_ERROR_STOP=1",
                "-tAc",
                statement,
            ],
            env={**os.environ, "PGPASSWORD": "tda"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout
