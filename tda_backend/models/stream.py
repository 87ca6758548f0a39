"""The stream family: events published for windowed, continuous computation."""

from __future__ import annotations

from typing import Annotated, NotRequired

from pydantic import AllowInfNan, BaseModel, ConfigDict, Field, StringConstraints, with_config
from typing_extensions import TypedDict  # pydantic needs this one on Python 3.11

FiniteFloat = Annotated[float, AllowInfNan(False)]


# The request's events are typed dicts rather than models: validated straight from the request's
# JSON, up to 10,000 per request, without an object built per event.
@with_config(ConfigDict(extra="forbid"))
class StreamEvent(TypedDict):
    stream_id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    point: Annotated[list[FiniteFloat], Field(min_length=1, max_length=1000)]
    timestamp: NotRequired[
        Annotated[
            FiniteFloat | None, Field(description="seconds since the epoch; default: arrival")
        ]
    ]


@with_config(ConfigDict(extra="forbid"))
class PublishRequest(TypedDict):
    events: Annotated[list[StreamEvent], Field(min_length=1, max_length=10_000)]


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
