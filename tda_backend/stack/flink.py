"""Flink for ``tda-stack``: a standalone session cluster (one JobManager, one TaskManager).

The distribution is PyPI's ``apache-flink`` (the ``streaming`` extra): its installed ``pyflink``
folder has ``bin/``, ``lib/`` and ``opt/`` and serves as FLINK_HOME. The configuration is written
under the stack directory (loopback addresses, modest memory, Python workers run by this
interpreter so that they import ``tda_backend`` and its engine), and the Kafka connector jar is
resolved from Maven Central through ``infra/flink/pom.xml`` for the jobs to use.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx

from tda_backend.stack.base import (
    ServiceStatus,
    StackContext,
    StackError,
    env_port,
    java_options,
    maven_classpath,
    port_open,
    read_pid,
    run,
    stop_pid,
    wait_until,
)

HOST = "127.0.0.1"


def flink_home() -> Path:
    try:
        import pyflink
    except ImportError as exc:
        raise StackError("PyFlink is not installed: pip install '.[streaming]'") from exc
    return Path(pyflink.__file__).resolve().parent


def connector_jars(ctx: StackContext) -> list[str]:
    """Absolute paths of the Kafka connector jar(s) matching the installed Flink."""
    return maven_classpath(
        ctx.infra / "flink" / "pom.xml", ctx.service_dir("flink") / "connector-classpath.txt"
    )


class Flink:
    name = "flink"

    def __init__(self) -> None:
        self.rest_port = env_port("TDA_STACK_FLINK_PORT", 8081)
        self.rpc_port = env_port("TDA_STACK_FLINK_RPC_PORT", 6123)
        self.slots = int(os.environ.get("TDA_STACK_FLINK_SLOTS", "4"))
        self.jobmanager_memory = os.environ.get("TDA_STACK_FLINK_JOBMANAGER_MEMORY", "1024m")
        self.taskmanager_memory = os.environ.get("TDA_STACK_FLINK_TASKMANAGER_MEMORY", "1536m")

    @property
    def rest_url(self) -> str:
        return f"http://{HOST}:{self.rest_port}"

    def _paths(self, ctx: StackContext) -> dict[str, Path]:
        base = ctx.service_dir(self.name)
        return {
            "base": base,
            "conf": base / "conf",
            "logs": base / "logs",
            "pids": base / "pids",
            "checkpoints": base / "checkpoints",
            "tmp": base / "tmp",
            "lib": base / "lib",
        }

    def _config(self, ctx: StackContext, home: Path, paths: dict[str, Path]) -> str:
        defaults = (home / "conf" / "config.yaml").read_text()
        java_opts = re.search(r"^\s+all:\s*(.+)$", defaults, re.MULTILINE)
        settings = {
            # Flink's own defaults open the JDK modules Flink needs on Java 17.
            "env.java.opts.all": " ".join(
                [java_opts.group(1).strip() if java_opts else "", *java_options()]
            ).strip(),
            "jobmanager.bind-host": HOST,
            "jobmanager.rpc.address": HOST,
            "jobmanager.rpc.port": str(self.rpc_port),
            "jobmanager.memory.process.size": self.jobmanager_memory,
            "jobmanager.execution.failover-strategy": "region",
            # A TaskManager that died is given up after two failed heartbeats, 2 s apart (its
            # port refuses them), instead of 2 of 10 s, and its jobs restart from their last
            # checkpoint on another; a live but stalled one after 20 s instead of 50.
            "heartbeat.interval": "2000",
            "heartbeat.timeout": "20000",
            "taskmanager.bind-host": HOST,
            "taskmanager.host": HOST,
            "taskmanager.rpc.port": "0",
            "taskmanager.data.port": "0",
            "taskmanager.numberOfTaskSlots": str(self.slots),
            "taskmanager.memory.process.size": self.taskmanager_memory,
            "blob.server.port": "0",
            "rest.address": HOST,
            "rest.bind-address": HOST,
            "rest.port": str(self.rest_port),
            "parallelism.default": "1",
            "io.tmp.dirs": str(paths["tmp"]),
            "execution.checkpointing.dir": paths["checkpoints"].as_uri(),
            "state.backend.type": "hashmap",
            # The Python workers of the jobs' UDFs: this interpreter has tda_backend installed.
            "python.executable": ctx.python,
            "python.client.executable": ctx.python,
        }
        return "".join(f"{key}: {_yaml_scalar(value)}\n" for key, value in settings.items())

    def _link_lib(self, home: Path, lib: Path, connectors: list[str]) -> None:
        """The cluster's class path: the distribution's lib/, opt/'s flink-python, which runs
        the Python operators of jobs submitted by a Python client, and the Kafka connector.

        The jobs name the connector too (``pipeline.jars``, for the client that builds them), but
        its classes, all under ``org.apache.flink.``, load parent-first from here: one copy
        per TaskManager, whose compiled code outlives a job. Loaded from each job's own class
        loader instead, every deployment's Kafka client ran interpreted until the JIT compiled it
        again (0.34 of the TaskManager's 0.54 cores were its compiler threads in the first minute
        of a job at 20,000 events/s)."""
        lib.mkdir(parents=True, exist_ok=True)
        for old in lib.iterdir():
            old.unlink()
        jars = [
            *(home / "lib").glob("*.jar"),
            *(home / "opt").glob("flink-python-*.jar"),
            *(Path(jar) for jar in connectors),
        ]
        for jar in jars:
            (lib / jar.name).symlink_to(jar)

    def _environment(self, paths: dict[str, Path]) -> dict[str, str]:
        return {
            **os.environ,
            "FLINK_LIB_DIR": str(paths["lib"]),
            "FLINK_CONF_DIR": str(paths["conf"]),
            "FLINK_LOG_DIR": str(paths["logs"]),
            "FLINK_PID_DIR": str(paths["pids"]),
            # The daemon scripts name their pid files after $USER.
            "USER": _user(),
        }

    def _pid_files(self, paths: dict[str, Path]) -> dict[str, Path]:
        user = _user()
        return {
            "jobmanager": paths["pids"] / f"flink-{user}-standalonesession.pid",
            "taskmanager": paths["pids"] / f"flink-{user}-taskexecutor.pid",
        }

    def up(self, ctx: StackContext) -> None:
        home = flink_home()
        paths = self._paths(ctx)
        for key in ("conf", "logs", "pids", "checkpoints", "tmp"):
            paths[key].mkdir(parents=True, exist_ok=True)
        connectors = connector_jars(ctx)  # resolved now: `stream deploy` does not wait for Maven
        pids = self._pid_files(paths)
        environment = self._environment(paths)
        jobmanager_running = read_pid(pids["jobmanager"]) is not None
        if not jobmanager_running and port_open(HOST, self.rest_port):
            raise StackError(
                f"port {self.rest_port} is taken by another program "
                "(set TDA_STACK_FLINK_PORT to use another one)"
            )
        (paths["conf"] / "config.yaml").write_text(self._config(ctx, home, paths))
        if not jobmanager_running:
            self._link_lib(home, paths["lib"], connectors)
        log4j = (home / "conf" / "log4j.properties").read_text()
        (paths["conf"] / "log4j.properties").write_text(log4j)
        (paths["conf"] / "log4j-cli.properties").write_text(
            (home / "conf" / "log4j-cli.properties").read_text()
        )
        for role, script in (("jobmanager", "jobmanager.sh"), ("taskmanager", "taskmanager.sh")):
            if read_pid(pids[role]) is None:
                pids[role].unlink(missing_ok=True)
                run(
                    ["bash", str(home / "bin" / script), "start"],
                    env=environment,
                    what=f"starting the Flink {role}",
                    timeout=120,
                )
        wait_until(
            self._has_taskmanager,
            timeout=120,
            what=f"Flink answering at {self.rest_url}",
            log=paths["logs"],
        )

    def _has_taskmanager(self) -> bool:
        try:
            overview = httpx.get(self.rest_url + "/overview", timeout=2).json()
        except (httpx.HTTPError, ValueError):
            return False
        return int(overview.get("taskmanagers", 0)) > 0

    def down(self, ctx: StackContext) -> None:
        paths = self._paths(ctx)
        for pid_file in reversed(self._pid_files(paths).values()):
            if pid_file.exists():
                # The daemon scripts keep one pid per line; the stack runs one of each.
                for line in pid_file.read_text().split():
                    single = pid_file.with_suffix(".one")
                    single.write_text(line + "\n")
                    stop_pid(single, timeout=30)
                pid_file.unlink(missing_ok=True)

    def status(self, ctx: StackContext) -> ServiceStatus:
        pids = self._pid_files(self._paths(ctx))
        running = {role: read_pid(path) for role, path in pids.items()}
        if not any(running.values()):
            return ServiceStatus(self.name, False, "stopped")
        answering = self._has_taskmanager()
        roles = ", ".join(f"{role} pid {pid}" for role, pid in running.items() if pid)
        state = "running" if answering and all(running.values()) else "starting or degraded"
        return ServiceStatus(
            self.name, state == "running", f"{state} ({roles}), REST at {self.rest_url}"
        )

    def env(self, ctx: StackContext) -> dict[str, str]:
        return {"FLINK_REST_URL": self.rest_url}


def _yaml_scalar(value: str) -> str:
    if value == "" or re.search(r"[:#{}\[\],&*!|>'\"%@`]", value):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value


def _user() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name
