"""What every ``tda-stack`` service shares: where its files live, and how its processes are run.

A service is a module of this package with a class implementing :class:`Service`. Its processes are
started detached, in their own session, with their pid written under ``<stack dir>/<service>/``, so
that ``down`` and ``status`` find them again from any later invocation.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


class StackError(RuntimeError):
    """A service could not be brought to the requested state; the message says why."""


@dataclass(frozen=True)
class StackContext:
    """Where the stack keeps its files, and the Python that services run Python code with."""

    root: Path
    infra: Path
    python: str

    @classmethod
    def from_environment(cls) -> StackContext:
        root = Path(os.environ.get("TDA_STACK_DIR", "var/stack")).resolve()
        infra = Path(os.environ.get("TDA_INFRA_DIR", _repository_infra())).resolve()
        return cls(root=root, infra=infra, python=sys.executable)

    def service_dir(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path


def _repository_infra() -> Path:
    # tda_backend/stack/base.py -> the source tree's infra/ (the package is installed editable).
    return Path(__file__).resolve().parents[2] / "infra"


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    running: bool
    detail: str


class Service(Protocol):
    name: str

    def up(self, ctx: StackContext) -> None: ...

    def down(self, ctx: StackContext) -> None: ...

    def status(self, ctx: StackContext) -> ServiceStatus: ...

    def env(self, ctx: StackContext) -> dict[str, str]: ...


def env_port(variable: str, default: int) -> int:
    value = os.environ.get(variable)
    if value is None or not value.strip():
        return default
    try:
        port = int(value)
    except ValueError as exc:
        raise StackError(f"{variable}={value!r} is not a port number") from exc
    if not 0 < port < 65536:
        raise StackError(f"{variable}={port} is not a port number")
    return port


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(predicate: object, *, timeout: float, what: str, log: Path | None = None) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    hint = f"; see {log}" if log is not None else ""
    raise StackError(f"{what} did not happen within {timeout:.0f} s{hint}")


# --- processes -------------------------------------------------------------------------------


def listening_status(name: str, pid: int | None, host: str, port: int, where: str) -> ServiceStatus:
    """A one-process server's status: stopped without a live pid, running once its port answers."""
    if pid is None:
        return ServiceStatus(name, False, "stopped")
    answering = port_open(host, port)
    state = "running" if answering else "starting"
    return ServiceStatus(name, answering, f"{state} (pid {pid}) on {where}")


def read_pid(pid_file: Path) -> int | None:
    """The pid recorded in ``pid_file`` if that process is still alive, else None."""
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    if _is_zombie(pid):
        return None
    return pid


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def spawn(
    argv: Sequence[str],
    *,
    pid_file: Path,
    log_file: Path,
    cwd: Path,
    env: Mapping[str, str] | None = None,
) -> int:
    """Start ``argv`` detached from this process (own session, output to ``log_file``)."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log, open(os.devnull, "rb") as devnull:
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            stdin=devnull,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            start_new_session=True,
        )
    pid_file.write_text(f"{process.pid}\n")
    return process.pid


def stop_pid(pid_file: Path, *, timeout: float = 30.0) -> bool:
    """SIGTERM the recorded process, SIGKILL it after ``timeout``; True if one was running."""
    pid = read_pid(pid_file)
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and read_pid(pid_file) is not None:
        time.sleep(0.2)
    if read_pid(pid_file) is not None:
        os.kill(pid, signal.SIGKILL)
        while read_pid(pid_file) is not None:
            time.sleep(0.1)
    pid_file.unlink(missing_ok=True)
    return True


def run(
    argv: Sequence[str],
    *,
    what: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 900.0,
) -> str:
    """Run a short command to completion, returning its output; StackError on failure."""
    try:
        done = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            check=False,
        )
    except FileNotFoundError as exc:
        raise StackError(f"{what}: {argv[0]} is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise StackError(f"{what}: no answer within {timeout:.0f} s") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
        raise StackError(f"{what} failed (exit {done.returncode}):\n{tail}")
    return done.stdout


def java_executable() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise StackError("java is not installed (Java 17 or newer is needed for Kafka and Flink)")
    return java


# Only HotSpot's first-tier compiler (C1). On a machine of few cores the full tiered JIT competes
# with the load for its first minute: a new Kafka broker and Flink TaskManager took 0.55 cores
# more than warm ones at 20,000 events/s, and the first job's window latency p99 was 1 to 3.2 s
# against 0.1 once warm; with C1 alone, 0.1 from the start, for about 10% more CPU once warm
# (docs/benchmarks.md, streaming). TDA_STACK_JAVA_OPTS="" gives the JVM's default.
DEFAULT_JAVA_OPTS = "-XX:TieredStopAtLevel=1"


def java_options() -> list[str]:
    """Options added to the stack's JVMs (Kafka, Flink): ``TDA_STACK_JAVA_OPTS``."""
    return shlex.split(os.environ.get("TDA_STACK_JAVA_OPTS", DEFAULT_JAVA_OPTS))


def maven_classpath(pom: Path, output: Path) -> list[str]:
    """The class path of ``pom``'s dependencies, resolved by Maven once, kept in ``output``."""
    if not pom.exists():
        raise StackError(f"{pom} is missing (set TDA_INFRA_DIR to the repository's infra/)")
    if not output.exists() or output.stat().st_mtime < pom.stat().st_mtime:
        mvn = shutil.which("mvn")
        if mvn is None:
            raise StackError("mvn (Maven) is not installed; it resolves the Kafka and Flink jars")
        output.parent.mkdir(parents=True, exist_ok=True)
        partial = output.with_suffix(".partial")
        run(
            [
                mvn,
                "-q",
                "-B",
                "-f",
                str(pom),
                "dependency:build-classpath",
                f"-Dmdep.outputFile={partial}",
            ],
            what=f"resolving {pom} with Maven",
        )
        partial.replace(output)
    entries = [p for p in output.read_text().strip().split(os.pathsep) if p]
    missing = [p for p in entries if not Path(p).exists()]
    if missing:
        output.unlink()
        return maven_classpath(pom, output)
    return entries


# --- Debian packages -------------------------------------------------------------------------


_apt_updated = False


def apt_install(packages: Sequence[str], *, what: str) -> None:
    """Install Debian ``packages`` (``apt-get update`` first); StackError if that is impossible."""
    listed = " ".join(packages)
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        raise StackError(f"{what} is not installed; install it with: apt-get install {listed}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # Another apt run (a second tda-stack, the bootstrap script) may hold the lock for a while.
    wait_lock = ["-o", "DPkg::Lock::Timeout=600"]
    global _apt_updated
    if not _apt_updated:  # once per tda-stack run, however many services install something
        run([apt, *wait_lock, "update", "-qq"], what="apt-get update", env=env)
        _apt_updated = True
    run(
        [apt, *wait_lock, "install", "-y", "-qq", "--no-install-recommends", *packages],
        what=f"installing {listed}",
        env=env,
    )
