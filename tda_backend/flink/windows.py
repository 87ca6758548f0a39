"""Count-based sliding windows over one stream, and what each window emits.

Window ``k`` of a stream holds its events ``k*slide .. k*slide+size-1`` in publish order (the order
of the stream's Kafka partition). It is complete when event ``k*slide+size-1`` arrives; its points
go to the C++ engine and one JSON-ready dict comes out. Plain Python, so that the Flink job and the
tests share it: the job keeps one :class:`StreamWindows` per stream as its keyed state.

A message of the raw-data topic carries one stream's consecutive events: ``{"stream_id",
"points": [[...], ...], "ingested_ms"}`` as the API writes them (one message per stream and
request), or ``{"stream_id", "point": [...]}`` for a single event from any other producer.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from tda_backend.core import vietoris_rips
from tda_backend.flink.features import (
    FloatArray,
    anomaly_score,
    diagram_features,
    diagrams_from_json,
    diagrams_to_json,
)

Mode = Literal["points", "delay"]


@dataclass(frozen=True)
class WindowSpec:
    size: int
    slide: int
    maxdim: int = 1
    mode: Mode = "points"
    embedding_dimension: int = 3
    embedding_lag: int = 1

    def __post_init__(self) -> None:
        if self.size < 2 or self.slide < 1 or self.maxdim < 0:
            raise ValueError("window size must be at least 2, slide at least 1, maxdim at least 0")
        if self.mode == "delay" and self.embedded_points() < 2:
            raise ValueError(
                f"a delay embedding of dimension {self.embedding_dimension} and lag "
                f"{self.embedding_lag} leaves fewer than 2 points in a window of {self.size}"
            )

    def embedded_points(self) -> int:
        return self.size - (self.embedding_dimension - 1) * self.embedding_lag

    def closes_window(self, seq: int) -> int | None:
        """The index of the window that event ``seq`` completes, if any."""
        first = seq - self.size + 1
        if first < 0 or first % self.slide:
            return None
        return first // self.slide

    def needed_after(self, window: int) -> int:
        """The first event sequence number still needed once ``window`` is emitted."""
        return (window + 1) * self.slide

    def wanted(self, seq: int) -> bool:
        """Whether event ``seq`` belongs to some window (not so in the gaps when slide > size)."""
        return seq % self.slide < self.size or self.slide <= self.size


@dataclass(frozen=True)
class EventBatch:
    """Consecutive events of one stream, as one raw-data message carries them."""

    stream_id: str
    points: list[list[float]]
    ingested_ms: int | None


def parse_events(raw: str | bytes) -> EventBatch | None:
    """The events of a raw-data message, or None for a message that is not one."""
    try:
        body = json.loads(raw)
        stream_id = body["stream_id"]
        points = body["points"] if "points" in body else [body["point"]]
        points = [[float(x) for x in point] for point in points]
    except (ValueError, KeyError, TypeError):
        return None
    if (
        not isinstance(stream_id, str)
        or not points
        or not all(point and all(math.isfinite(x) for x in point) for point in points)
    ):
        return None
    ingested = body.get("ingested_ms")
    return EventBatch(
        stream_id, points, int(ingested) if isinstance(ingested, int | float) else None
    )


def delay_embedding(samples: FloatArray, dimension: int, lag: int) -> FloatArray:
    """Rows ``(x[i], x[i+lag], ..., x[i+(dimension-1)*lag])`` of a scalar series (Takens)."""
    count = samples.shape[0] - (dimension - 1) * lag
    return np.stack([samples[j * lag : j * lag + count] for j in range(dimension)], axis=1)


def window_points(spec: WindowSpec, points: list[list[float]]) -> FloatArray:
    data = np.asarray(points, dtype=np.float64)
    if spec.mode == "delay":
        return delay_embedding(data[:, 0], spec.embedding_dimension, spec.embedding_lag)
    return data


def compute_window(
    spec: WindowSpec,
    stream_id: str,
    index: int,
    points: list[list[float]],
    last_ingested_ms: int | None,
    previous: list[FloatArray] | None,
) -> tuple[dict[str, Any], list[FloatArray]]:
    """The message for window ``index`` and its diagrams (the next window's ``previous``)."""
    started = time.perf_counter()
    result = vietoris_rips(window_points(spec, points), maxdim=spec.maxdim)
    diagrams = [np.asarray(d, dtype=np.float64) for d in result.diagrams]
    message: dict[str, Any] = {
        "kind": "window",
        "stream_id": stream_id,
        "window_index": index,
        "first_event": index * spec.slide,
        "last_event": index * spec.slide + spec.size - 1,
        "size": spec.size,
        "mode": spec.mode,
        "maxdim": spec.maxdim,
        "diagrams": diagrams_to_json(diagrams),
        **diagram_features(diagrams),
        "anomaly_score": anomaly_score(previous, diagrams),
        "compute_ms": round((time.perf_counter() - started) * 1000, 3),
        "last_ingested_ms": last_ingested_ms,
        "emitted_ms": time.time_ns() // 1_000_000,
    }
    return message, diagrams


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), allow_nan=False)


class StreamWindows:
    """The windows of one stream: the events still needed, and the last window's diagrams.

    Picklable; the Flink job holds one per stream as a single keyed value, read and written once
    per raw-data message however many events it carries.
    """

    def __init__(self, spec: WindowSpec, stream_id: str) -> None:
        self.spec, self.stream_id = spec, stream_id
        self.seq = 0  # the sequence number of the stream's next event
        self.first = 0  # the sequence number of buffer[0]
        self.buffer: list[list[float]] = []
        self.previous: list[FloatArray] | None = None

    def add(
        self, points: list[list[float]], ingested_ms: int | None = None
    ) -> list[dict[str, Any]]:
        """Append consecutive events; the messages of the windows they complete, in order."""
        spec, messages = self.spec, []
        for point in points:
            seq, self.seq = self.seq, self.seq + 1
            if not spec.wanted(seq):
                continue
            if not self.buffer:
                self.first = seq
            self.buffer.append(point)
            index = spec.closes_window(seq)
            if index is None:
                continue
            message, self.previous = compute_window(
                spec, self.stream_id, index, self.buffer, ingested_ms, self.previous
            )
            messages.append(message)
            done = min(spec.needed_after(index) - self.first, len(self.buffer))
            del self.buffer[:done]
            self.first += done
        return messages


__all__ = [
    "EventBatch",
    "StreamWindows",
    "WindowSpec",
    "compute_window",
    "diagrams_from_json",
    "encode",
    "parse_events",
]
