"""PostgreSQL for ``tda-stack``: the project's own cluster on loopback, from Debian's packages.

The cluster lives in ``<stack dir>/postgres/data`` (``initdb`` once), listens on 127.0.0.1 only
(port ``TDA_STACK_POSTGRES_PORT``, default 55432, away from a system PostgreSQL on 5432), and has a
superuser ``tda`` (password ``tda``, or ``TDA_STACK_POSTGRES_PASSWORD``) owning a database ``tda``.
PostgreSQL refuses to run as root: as root the cluster's files belong to the unprivileged
``postgres`` user that Debian's package creates, and the server runs as that user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from collections.abc import Sequence
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
    wait_until,
)

HOST = "127.0.0.1"
VERSION = "15"
PACKAGE = f"postgresql-{VERSION}"
DATABASE = "tda"
ROLE = "tda"


class Postgres:
    name = "postgres"

    def __init__(self) -> None:
        self.port = env_port("TDA_STACK_POSTGRES_PORT", 55432)
        self.password = os.environ.get("TDA_STACK_POSTGRES_PASSWORD", "tda")
        self.bin = Path(
            os.environ.get("TDA_STACK_POSTGRES_BIN", f"/usr/lib/postgresql/{VERSION}/bin")
        )

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://{ROLE}:{self.password}@{HOST}:{self.port}/{DATABASE}"

    def _paths(self, ctx: StackContext) -> dict[str, Path]:
        base = ctx.service_dir(self.name)
        return {
            "base": base,
            "data": base / "data",
            "run": base / "run",
            "log": base / "logs" / "postgres.log",
            "pwfile": base / "run" / "initdb.pw",
        }

    # -- running commands as the cluster's owner ---------------------------------------------

    def _owner(self) -> pwd.struct_passwd | None:
        """The account the server runs as: ``postgres`` when we are root, else ourselves."""
        if os.geteuid() != 0:
            return None
        user = os.environ.get("TDA_STACK_POSTGRES_USER", "postgres")
        try:
            return pwd.getpwnam(user)
        except KeyError:
            raise StackError(
                f"PostgreSQL cannot run as root and there is no {user!r} user to run it as"
                f" (it comes with Debian's {PACKAGE}; or set TDA_STACK_POSTGRES_USER)"
            ) from None

    def _run_as_owner(self, argv: Sequence[str], *, what: str) -> subprocess.CompletedProcess[str]:
        owner = self._owner()
        env = {**os.environ, "LC_ALL": "C.UTF-8", "PGPASSWORD": self.password}
        try:
            return subprocess.run(
                list(argv),
                capture_output=True,
                text=True,
                timeout=180,
                env=env,
                cwd="/",
                user=owner.pw_uid if owner else None,
                group=owner.pw_gid if owner else None,
                extra_groups=[] if owner else None,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise StackError(f"{what}: no answer within 180 s") from exc

    def _run(self, argv: Sequence[str], *, what: str) -> str:
        done = self._run_as_owner(argv, what=what)
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
            raise StackError(f"{what} failed (exit {done.returncode}):\n{tail}")
        return done.stdout

    def _give_to_owner(self, base: Path, *paths: Path) -> None:
        owner = self._owner()
        if owner is None:
            return
        for path in paths:
            for entry in [path, *path.rglob("*")]:
                os.chown(entry, owner.pw_uid, owner.pw_gid, follow_symlinks=False)
        if self._run_as_owner(["test", "-x", str(base)], what="checking access").returncode:
            raise StackError(
                f"user {owner.pw_name!r} cannot reach {base}: every directory above it must be"
                " searchable by others (chmod o+x), or set TDA_STACK_DIR elsewhere"
            )

    # -- the service -------------------------------------------------------------------------

    def _tool(self, name: str) -> str:
        return str(self.bin / name)

    def _ensure_installed(self) -> None:
        if not (self.bin / "pg_ctl").exists() or not (self.bin / "initdb").exists():
            apt_install([PACKAGE], what=f"PostgreSQL {VERSION}")
        if not (self.bin / "pg_ctl").exists():
            raise StackError(f"{self.bin}/pg_ctl is missing after installing {PACKAGE}")

    def _running(self, paths: dict[str, Path]) -> int | None:
        """The postmaster's pid when our cluster runs."""
        return read_pid(paths["data"] / "postmaster.pid")

    def up(self, ctx: StackContext) -> None:
        self._ensure_installed()
        paths = self._paths(ctx)
        for key in ("run", "log"):
            target = paths[key] if key == "run" else paths[key].parent
            target.mkdir(parents=True, exist_ok=True)
        if not (paths["data"] / "PG_VERSION").exists():
            self._initdb(paths)
        if self._running(paths) is None:
            if port_open(HOST, self.port):
                raise StackError(
                    f"port {self.port} is taken by another program "
                    "(set TDA_STACK_POSTGRES_PORT to use another one)"
                )
            self._give_to_owner(paths["base"], paths["data"], paths["run"], paths["log"].parent)
            options = " ".join(
                [
                    f"-c listen_addresses={HOST}",
                    f"-c port={self.port}",
                    f"-c unix_socket_directories={paths['run']}",
                    "-c max_connections=300",
                ]
            )
            self._run(
                [
                    self._tool("pg_ctl"),
                    "-D",
                    str(paths["data"]),
                    "-l",
                    str(paths["log"]),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ],
                what="starting PostgreSQL",
            )
        wait_until(
            lambda: port_open(HOST, self.port),
            timeout=60,
            what=f"PostgreSQL listening on {HOST}:{self.port}",
            log=paths["log"],
        )
        self._ensure_database()

    def _initdb(self, paths: dict[str, Path]) -> None:
        if paths["data"].exists():
            shutil.rmtree(paths["data"])  # an initdb that did not finish
        paths["data"].mkdir(parents=True)
        paths["data"].chmod(0o700)
        paths["pwfile"].write_text(self.password + "\n")
        self._give_to_owner(paths["base"], paths["data"], paths["run"], paths["log"].parent)
        try:
            self._run(
                [
                    self._tool("initdb"),
                    "-D",
                    str(paths["data"]),
                    "-U",
                    ROLE,
                    f"--pwfile={paths['pwfile']}",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ],
                what="initdb",
            )
        finally:
            paths["pwfile"].unlink(missing_ok=True)

    def _psql(self, sql: str, *, what: str) -> str:
        return self._run(
            [
                self._tool("psql"),
                "-h",
                HOST,
                "-p",
                str(self.port),
                "-U",
                ROLE,
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-tAc",
                sql,
            ],
            what=what,
        )

    def _ensure_database(self) -> None:
        exists = self._psql(
            f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'", what="listing databases"
        )
        if exists.strip() != "1":
            self._psql(f"CREATE DATABASE {DATABASE} OWNER {ROLE}", what="creating the database")

    def down(self, ctx: StackContext) -> None:
        paths = self._paths(ctx)
        if self._running(paths) is None or not (self.bin / "pg_ctl").exists():
            return
        self._run(
            [
                self._tool("pg_ctl"),
                "-D",
                str(paths["data"]),
                "-m",
                "fast",
                "-w",
                "-t",
                "60",
                "stop",
            ],
            what="stopping PostgreSQL",
        )

    def status(self, ctx: StackContext) -> ServiceStatus:
        return listening_status(
            self.name, self._running(self._paths(ctx)), HOST, self.port, f"{HOST}:{self.port}"
        )

    def env(self, ctx: StackContext) -> dict[str, str]:
        return {"DATABASE_URL": self.url}
