"""``/stream``: publishing events to Kafka for windowed computation in Flink, and the pipeline's
state. Answered 503 "streaming is not configured" while ``KAFKA_BOOTSTRAP_SERVERS`` is unset."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter

from fastapi import APIRouter, HTTPException

from tda_backend.api.deps import SettingsDep
from tda_backend.config import Settings
from tda_backend.models.common import ErrorOut
from tda_backend.models.stream import (
    PartitionOffsets,
    PublishRequest,
    PublishResponse,
    StreamStatus,
)

router = APIRouter(prefix="/stream", tags=["stream"])

_NOT_CONFIGURED = (
    "streaming is not configured: this server has no Kafka/Flink pipeline"
    " (KAFKA_BOOTSTRAP_SERVERS, FLINK_REST_URL)"
)
_RESPONSES: dict[int | str, dict[str, object]] = {
    503: {
        "model": ErrorOut,
        "description": "Streaming is not configured, or the Kafka broker is unreachable",
    },
}


def _bootstrap(settings: Settings) -> str:
    if settings.kafka_bootstrap_servers is None:
        raise HTTPException(503, _NOT_CONFIGURED)
    return settings.kafka_bootstrap_servers


@router.post("/publish", responses=_RESPONSES)
async def publish(body: PublishRequest, settings: SettingsDep) -> PublishResponse:
    """Publish events ``{"stream_id", "point", "timestamp"?}`` to ``<prefix>raw_data_events``,
    keyed by ``stream_id``. Answers once the broker acknowledged every event (acks=all, idempotent
    producer): an event that got this 200 is in the log. Within a stream, events keep the order of
    the request (and of successive requests)."""
    from tda_backend.kafka.producer import (
        BrokerUnavailableError,
        OutgoingMessage,
        partition_ranges,
        shared_publisher,
    )
    from tda_backend.kafka.topics import TopicNames

    bootstrap = _bootstrap(settings)
    topic = TopicNames.with_prefix(settings.kafka_topic_prefix).raw_events
    ingested_ms = time.time_ns() // 1_000_000
    messages = [
        OutgoingMessage(
            key=event.stream_id.encode(),
            value=json.dumps(
                {
                    "stream_id": event.stream_id,
                    "point": event.point,
                    "timestamp": event.timestamp
                    if event.timestamp is not None
                    else ingested_ms / 1000,
                    "ingested_ms": ingested_ms,
                },
                separators=(",", ":"),
            ).encode(),
        )
        for event in body.events
    ]
    try:
        deliveries = await shared_publisher(bootstrap).publish(topic, messages)
    except BrokerUnavailableError as exc:
        raise HTTPException(503, f"events not published: {exc}; retry later") from exc
    return PublishResponse(
        published=len(deliveries),
        topic=topic,
        streams=dict(Counter(event.stream_id for event in body.events)),
        partitions=[
            PartitionOffsets(partition=p, count=c, first_offset=f, last_offset=last)
            for p, (c, f, last) in sorted(partition_ranges(deliveries).items())
        ],
    )


@router.get("/status", responses=_RESPONSES)
async def status(settings: SettingsDep) -> StreamStatus:
    """Broker reachability, the topics' partitions and end offsets, the Flink jobs' consumer-group
    lag, and the jobs' states from ``FLINK_REST_URL``."""
    from tda_backend.kafka.status import collect_status
    from tda_backend.kafka.topics import TopicNames

    bootstrap = _bootstrap(settings)
    topics = TopicNames.with_prefix(settings.kafka_topic_prefix)
    return await asyncio.to_thread(collect_status, bootstrap, topics, settings.flink_rest_url)
