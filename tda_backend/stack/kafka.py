"""Kafka for ``tda-stack``: one KRaft node (broker and controller in one JVM) on loopback.

The jars come from Maven Central through ``infra/kafka/pom.xml``; the data directory is formatted
once with a fresh cluster id. After the broker answers, the pipeline's topics are created
(idempotently) so that producers and the Flink jobs find them.
"""

from __future__ import annotations

import os
from pathlib import Path

from tda_backend.stack.base import (
    ServiceStatus,
    StackContext,
    StackError,
    env_port,
    java_executable,
    java_options,
    listening_status,
    maven_classpath,
    port_open,
    read_pid,
    run,
    spawn,
    stop_pid,
    wait_until,
)

HOST = "127.0.0.1"

_LOG4J2 = """\
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
"""


class Kafka:
    name = "kafka"

    def __init__(self) -> None:
        self.port = env_port("TDA_STACK_KAFKA_PORT", 9092)
        self.controller_port = env_port("TDA_STACK_KAFKA_CONTROLLER_PORT", 9093)
        self.heap = os.environ.get("TDA_STACK_KAFKA_HEAP", "512m")

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"

    def _paths(self, ctx: StackContext) -> dict[str, Path]:
        base = ctx.service_dir(self.name)
        return {
            "base": base,
            "data": base / "data",
            "config": base / "server.properties",
            "log4j": base / "log4j2.properties",
            "pid": base / "kafka.pid",
            "out": base / "logs" / "kafka.out",
            "log": base / "logs" / "server.log",
            "classpath": base / "classpath.txt",
        }

    def _server_properties(self, data: Path) -> str:
        return "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@{HOST}:{self.controller_port}",
                f"listeners=PLAINTEXT://{HOST}:{self.port},CONTROLLER://{HOST}:{self.controller_port}",
                f"advertised.listeners=PLAINTEXT://{HOST}:{self.port}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                f"log.dirs={data}",
                # One node: every internal topic has a single replica.
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                f"num.partitions={os.environ.get('KAFKA_PARTITIONS', '2')}",
                "auto.create.topics.enable=false",
                "",
            ]
        )

    def up(self, ctx: StackContext) -> None:
        paths = self._paths(ctx)
        if read_pid(paths["pid"]) is None:
            if port_open(HOST, self.port):
                raise StackError(
                    f"port {self.port} is taken by another program "
                    "(set TDA_STACK_KAFKA_PORT to use another one)"
                )
            self._start(ctx, paths)
        wait_until(
            lambda: port_open(HOST, self.port),
            timeout=90,
            what=f"Kafka listening on {self.bootstrap}",
            log=paths["log"],
        )
        from tda_backend.kafka.topics import ensure_topics

        ensure_topics(self.bootstrap, timeout=60.0)

    def _start(self, ctx: StackContext, paths: dict[str, Path]) -> None:
        classpath = os.pathsep.join(
            maven_classpath(ctx.infra / "kafka" / "pom.xml", paths["classpath"])
        )
        java = java_executable()
        paths["data"].mkdir(parents=True, exist_ok=True)
        paths["config"].write_text(self._server_properties(paths["data"]))
        paths["log4j"].write_text(_LOG4J2.format(log=paths["log"]))
        jvm = [
            java,
            f"-Xms{self.heap}",
            f"-Xmx{self.heap}",
            "-XX:+UseG1GC",
            *java_options(),
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={paths['log4j']}",
            f"-Dkafka.logs.dir={paths['log'].parent}",
            "-cp",
            classpath,
        ]
        if not (paths["data"] / "meta.properties").exists():
            cluster_id = (
                run(
                    [*jvm, "kafka.tools.StorageTool", "random-uuid"],
                    what="generating a Kafka cluster id",
                )
                .strip()
                .splitlines()[-1]
            )
            run(
                [
                    *jvm,
                    "kafka.tools.StorageTool",
                    "format",
                    "--ignore-formatted",
                    "-t",
                    cluster_id,
                    "-c",
                    str(paths["config"]),
                ],
                what="formatting Kafka storage",
            )
        spawn(
            [*jvm, "kafka.Kafka", str(paths["config"])],
            pid_file=paths["pid"],
            log_file=paths["out"],
            cwd=paths["base"],
        )

    def down(self, ctx: StackContext) -> None:
        stop_pid(self._paths(ctx)["pid"], timeout=60)

    def status(self, ctx: StackContext) -> ServiceStatus:
        return listening_status(
            self.name, read_pid(self._paths(ctx)["pid"]), HOST, self.port, self.bootstrap
        )

    def env(self, ctx: StackContext) -> dict[str, str]:
        return {"KAFKA_BOOTSTRAP_SERVERS": self.bootstrap}
