"""What ``GET /stream/status`` reports: the broker, the topics' end offsets, the Flink jobs'
consumer-group lag, and the jobs' states from the Flink REST API.

Blocking (confluent-kafka's admin calls and the REST request); the route runs it in a thread.
"""

from __future__ import annotations

from typing import Any

import httpx

from tda_backend.kafka.topics import VALIDATION_JOB_GROUP, WINDOW_JOB_GROUP, TopicNames
from tda_backend.models.stream import (
    ConsumerGroupStatus,
    FlinkJobStatus,
    StreamStatus,
    TopicStatus,
)

# Which topic each Flink job's consumer group reads.
JOB_GROUPS = {
    WINDOW_JOB_GROUP: "raw_events",
    VALIDATION_JOB_GROUP: "feature_results",
}


def collect_status(
    bootstrap: str, topics: TopicNames, flink_url: str | None, timeout: float = 5.0
) -> StreamStatus:
    status = StreamStatus(broker=bootstrap, broker_reachable=False, flink_url=flink_url)
    try:
        _kafka_status(status, bootstrap, topics, timeout)
    except Exception as exc:
        status.broker_error = _message(exc)
    if flink_url is not None:
        try:
            status.jobs = flink_jobs(flink_url, timeout)
            status.flink_reachable = True
        except Exception as exc:
            status.flink_reachable = False
            status.flink_error = _message(exc)
    return status


def _message(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"


def _kafka_status(status: StreamStatus, bootstrap: str, topics: TopicNames, timeout: float) -> None:
    from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, TopicPartition
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": int(timeout * 1000)})
    metadata = admin.list_topics(timeout=timeout)
    status.broker_reachable = True
    # A throwaway consumer (no group membership) reads the end offsets.
    reader = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "tda-status", "enable.auto.commit": False}
    )
    try:
        ends: dict[str, dict[int, int]] = {}
        for name in topics.all():
            topic = metadata.topics.get(name)
            if topic is None:
                status.topics.append(TopicStatus(name=name, exists=False))
                continue
            ends[name] = {
                p: reader.get_watermark_offsets(TopicPartition(name, p), timeout=timeout)[1]
                for p in sorted(topic.partitions)
            }
            status.topics.append(
                TopicStatus(
                    name=name, exists=True, partitions={str(p): o for p, o in ends[name].items()}
                )
            )
    finally:
        reader.close()
    for group, attribute in JOB_GROUPS.items():
        name = getattr(topics, attribute)
        if name not in ends:
            continue
        request = ConsumerGroupTopicPartitions(group, [TopicPartition(name, p) for p in ends[name]])
        future = admin.list_consumer_group_offsets([request], request_timeout=timeout)[group]
        committed: dict[str, int | None] = {}
        lag: int | None = 0
        for tp in future.result().topic_partitions:
            offset = tp.offset if tp.offset >= 0 else None
            committed[str(tp.partition)] = offset
            end = ends[name].get(tp.partition, 0)
            if offset is None:
                lag = None if end > 0 or lag is None else lag
            elif lag is not None:
                lag += max(0, end - offset)
        status.consumer_groups.append(
            ConsumerGroupStatus(group=group, topic=name, committed=committed, lag=lag)
        )


def flink_jobs(flink_url: str, timeout: float = 5.0) -> list[FlinkJobStatus]:
    response = httpx.get(flink_url.rstrip("/") + "/jobs/overview", timeout=timeout)
    response.raise_for_status()
    jobs: list[dict[str, Any]] = response.json().get("jobs", [])
    return [
        FlinkJobStatus(
            id=j["jid"], name=j["name"], state=j["state"], start_time=j.get("start-time")
        )
        for j in jobs
    ]
