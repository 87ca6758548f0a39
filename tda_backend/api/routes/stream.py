"""``/stream``: publishing events to Kafka for windowed computation in Flink, and the pipeline's
state. Answered 503 "streaming is not configured" while ``KAFKA_BOOTSTRAP_SERVERS`` is unset."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError
from pydantic_core import to_json

from tda_backend.api.deps import SettingsDep
from tda_backend.config import Settings
from tda_backend.models.common import ErrorOut
from tda_backend.models.stream import (
    PartitionOffsets,
    PublishRequest,
    PublishResponse,
    StreamEvent,
    StreamStatus,
)

router = APIRouter(prefix="/stream", tags=["stream"])

# One Kafka message carries up to this many coordinates of one stream's consecutive events of a
# request (about 20 bytes each in JSON): the Flink job's costs are per message, not per event.
MESSAGE_COORDINATES = 20_000

_NOT_CONFIGURED = (
    "streaming is not configured: this server has no Kafka/Flink pipeline"
    " (KAFKA_BOOTSTRAP_SERVERS, FLINK_REST_URL)"
)
_PUBLISH_REQUEST = TypeAdapter(PublishRequest)


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its ``$defs`` references replaced by the definitions (the OpenAPI
    document resolves ``#/...`` from its own root, where these are not)."""
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(definitions[node["$ref"].rsplit("/", 1)[1]])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(value) for value in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


_PUBLISH_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": _inlined(_PUBLISH_REQUEST.json_schema())}},
    }
}
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


@router.post("/publish", responses=_RESPONSES, openapi_extra=_PUBLISH_BODY)
async def publish(request: Request, settings: SettingsDep) -> PublishResponse:
    """Publish events ``{"stream_id", "point", "timestamp"?}`` to ``<prefix>raw_data_events``,
    keyed by ``stream_id``, each stream's events of the request in one message (or a few, for
    large points). Answers once the broker acknowledged every message (acks=all, idempotent
    producer): an event that got this 200 is in the log. Within a stream, events keep the order of
    the request (and of successive requests)."""
    from tda_backend.kafka.producer import (
        BrokerUnavailableError,
        OutgoingMessage,
        partition_ranges,
        shared_publisher,
    )
    from tda_backend.kafka.topics import TopicNames

    # Parsed and validated in one pass from the bytes (pydantic-core), into plain dicts: the
    # route's cost is per event, and FastAPI's body model would parse with the json module and
    # then build a model per event.
    try:
        events = _PUBLISH_REQUEST.validate_json(await request.body())["events"]
    except ValidationError as exc:
        # Without the inputs: they may be NaN (not JSON) or 10,000 events long.
        errors = exc.errors(include_url=False, include_input=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None
    bootstrap = _bootstrap(settings)
    topic = TopicNames.with_prefix(settings.kafka_topic_prefix).raw_events
    ingested_ms = time.time_ns() // 1_000_000
    streams = _by_stream(events)
    messages, sizes = [], []
    for stream_id, stream_events in streams.items():
        for chunk in _chunks(stream_events):
            value: dict[str, object] = {
                "stream_id": stream_id,
                "points": [event["point"] for event in chunk],
                "ingested_ms": ingested_ms,
            }
            if any(event.get("timestamp") is not None for event in chunk):
                value["timestamps"] = [
                    ingested_ms / 1000 if event.get("timestamp") is None else event["timestamp"]
                    for event in chunk
                ]
            messages.append(OutgoingMessage(key=stream_id.encode(), value=to_json(value)))
            sizes.append(len(chunk))
    try:
        deliveries = await shared_publisher(bootstrap).publish(topic, messages)
    except BrokerUnavailableError as exc:
        raise HTTPException(503, f"events not published: {exc}; retry later") from exc
    return PublishResponse(
        published=len(events),
        topic=topic,
        streams={stream_id: len(stream_events) for stream_id, stream_events in streams.items()},
        partitions=[
            PartitionOffsets(partition=p, count=c, first_offset=f, last_offset=last)
            for p, (c, f, last) in sorted(partition_ranges(deliveries, sizes).items())
        ],
    )


def _by_stream(events: list[StreamEvent]) -> dict[str, list[StreamEvent]]:
    """The events of each stream, in request order."""
    grouped: dict[str, list[StreamEvent]] = {}
    for event in events:
        grouped.setdefault(event["stream_id"], []).append(event)
    return grouped


def _chunks(events: list[StreamEvent]) -> list[list[StreamEvent]]:
    """Consecutive runs of at most MESSAGE_COORDINATES coordinates (at least one event each): a
    message stays well under the broker's 1 MB limit whatever the points' dimension."""
    per_message = max(1, MESSAGE_COORDINATES // max(len(event["point"]) for event in events))
    return [events[i : i + per_message] for i in range(0, len(events), per_message)]


@router.get("/status", responses=_RESPONSES)
async def status(settings: SettingsDep) -> StreamStatus:
    """Broker reachability, the topics' partitions and end offsets, the Flink jobs' consumer-group
    lag, and the jobs' states from ``FLINK_REST_URL``."""
    from tda_backend.kafka.status import collect_status
    from tda_backend.kafka.topics import TopicNames

    bootstrap = _bootstrap(settings)
    topics = TopicNames.with_prefix(settings.kafka_topic_prefix)
    return await asyncio.to_thread(collect_status, bootstrap, topics, settings.flink_rest_url)
