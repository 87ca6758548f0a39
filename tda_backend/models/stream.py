"""The stream family: events published for windowed, continuous computation."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class StreamEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stream_id: str = Field(min_length=1, max_length=200)
    point: list[float] = Field(min_length=1, max_length=1000)
    timestamp: float | None = Field(None, description="seconds since the epoch; default: arrival")


class PublishRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[StreamEvent] = Field(min_length=1, max_length=10_000)


class PartitionOffsets(BaseModel):
    partition: int
    count: int = Field(description="events of this request written to the partition")
    first_offset: int = Field(
        description="offset of the request's first message in the partition "
        "(a message holds one stream's consecutive events)"
    )
    last_offset: int = Field(description="offset of the request's last message in the partition")


class PublishResponse(BaseModel):
    """Sent only after the broker acknowledged every event (acks=all)."""

    published: int
    topic: str
    streams: dict[str, int] = Field(description="events per stream_id")
    partitions: list[PartitionOffsets]


class TopicStatus(BaseModel):
    name: str
    exists: bool
    partitions: dict[str, int] = Field(
        default_factory=dict, description="end offset (next offset to be written) per partition"
    )


class ConsumerGroupStatus(BaseModel):
    group: str
    topic: str
    committed: dict[str, int | None] = Field(default_factory=dict)
    lag: int | None = Field(None, description="end offsets minus committed offsets; None = unknown")


class FlinkJobStatus(BaseModel):
    id: str
    name: str
    state: str
    start_time: int | None = None


class StreamStatus(BaseModel):
    broker: str
    broker_reachable: bool
    broker_error: str | None = None
    topics: list[TopicStatus] = Field(default_factory=list)
    consumer_groups: list[ConsumerGroupStatus] = Field(default_factory=list)
    flink_url: str | None = None
    flink_reachable: bool | None = Field(None, description="None = FLINK_REST_URL is not set")
    flink_error: str | None = None
    jobs: list[FlinkJobStatus] = Field(default_factory=list)
