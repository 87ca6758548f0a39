"""Redis for ``tda-stack``: the project's own ``redis-server`` on loopback, from Debian's package.

It listens on 127.0.0.1 only (port ``TDA_STACK_REDIS_PORT``, default 56379, away from a system
Redis on 6379), with its configuration and files under ``<stack dir>/redis``. It keeps nothing on
disk: Redis holds the result cache and the job queue's messages, and the database can rebuild both
(queued jobs are sent again by the sweep), so a restart that empties it loses no job.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tda_backend.stack.base import (
    ServiceStatus,
    StackContext,
    StackError,
    apt_install,
    env_port,
    listening_status,
    port_open,
    read_pid,
    spawn,
    stop_pid,
    wait_until,
)

HOST = "127.0.0.1"
PACKAGE = "redis-server"


class Redis:
    name = "redis"

    def __init__(self) -> None:
        self.port = env_port("TDA_STACK_REDIS_PORT", 56379)
        self.maxmemory = os.environ.get("TDA_STACK_REDIS_MAXMEMORY", "512mb")

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def _paths(self, ctx: StackContext) -> dict[str, Path]:
        base = ctx.service_dir(self.name)
        return {
            "base": base,
            "data": base / "data",
            "config": base / "redis.conf",
            "pid": base / "redis.pid",
            "log": base / "logs" / "redis.log",
        }

    def _config(self, paths: dict[str, Path]) -> str:
        return "\n".join(
            [
                f"bind {HOST}",
                f"port {self.port}",
                "protected-mode yes",
                "daemonize no",
                f"dir {paths['data']}",
                f"logfile {paths['log']}",
                # Nothing on disk: the database is the record (see the module's docstring).
                'save ""',
                "appendonly no",
                f"maxmemory {self.maxmemory}",
                # Cache entries carry a TTL; queue messages do not and must never be evicted.
                "maxmemory-policy volatile-lru",
                "",
            ]
        )

    def _server(self) -> str:
        found = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(found).exists():
            apt_install([PACKAGE], what="Redis")
            found = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(found).exists():
            raise StackError(f"redis-server is missing after installing {PACKAGE}")
        return found

    def up(self, ctx: StackContext) -> None:
        server = self._server()
        paths = self._paths(ctx)
        if read_pid(paths["pid"]) is None:
            if port_open(HOST, self.port):
                raise StackError(
                    f"port {self.port} is taken by another program "
                    "(set TDA_STACK_REDIS_PORT to use another one)"
                )
            paths["data"].mkdir(parents=True, exist_ok=True)
            paths["log"].parent.mkdir(parents=True, exist_ok=True)
            paths["config"].write_text(self._config(paths))
            spawn(
                [server, str(paths["config"])],
                pid_file=paths["pid"],
                log_file=paths["log"].with_suffix(".out"),
                cwd=paths["base"],
            )
        wait_until(
            lambda: port_open(HOST, self.port),
            timeout=30,
            what=f"Redis listening on {HOST}:{self.port}",
            log=paths["log"],
        )

    def down(self, ctx: StackContext) -> None:
        stop_pid(self._paths(ctx)["pid"], timeout=30)

    def status(self, ctx: StackContext) -> ServiceStatus:
        return listening_status(
            self.name, read_pid(self._paths(ctx)["pid"]), HOST, self.port, f"{HOST}:{self.port}"
        )

    def env(self, ctx: StackContext) -> dict[str, str]:
        return {"REDIS_URL": self.url}
