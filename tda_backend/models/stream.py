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
