"""Count-based sliding windows over one stream, and what each window emits.

Window ``k`` of a stream holds its events ``k*slide .. k*slide+size-1`` in publish order (the order
of the stream's Kafka partition). It is complete when event ``k*slide+size-1`` arrives; its points
go to the C++ engine, which returns the window's diagrams, features and anomaly score as JSON.
Plain Python, so that the Flink job and the tests share it: the job keeps one
:class:`StreamWindows` per stream, as its :meth:`StreamWindows.state`, in its keyed state.

A message of the raw-data topic carries one stream's consecutive events: ``{"stream_id",
"points": [[...], ...], "ingested_ms"}`` as the API writes them (one message per stream and
request), or ``{"stream_id", "point": [...]}`` for a single event from any other producer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from pydantic_core import from_json, to_json

from tda_backend.core.features import FloatArray, window_features

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

    def complete(self, events: int) -> int:
        """How many windows the first ``events`` events of a stream complete."""
        return 0 if events < self.size else (events - self.size) // self.slide + 1


@dataclass(frozen=True)
class EventBatch:
    """Consecutive events of one stream, as one raw-data message carries them."""

    stream_id: str
    points: FloatArray  # (events, dimension)
    ingested_ms: int | None


def stream_of(raw: str | bytes) -> str | None:
    """The ``stream_id`` of a raw-data message, or None for a message without one."""
    try:
        stream_id = from_json(raw)["stream_id"]
    except (ValueError, KeyError, TypeError):
        return None
    return stream_id if isinstance(stream_id, str) else None


def parse_events(raw: str | bytes) -> EventBatch | None:
    """The events of a raw-data message, or None for a message that is not one."""
    try:
        body = from_json(raw)
        stream_id = body["stream_id"]
        points = np.asarray(body["points"] if "points" in body else [body["point"]], np.float64)
    except (ValueError, KeyError, TypeError):
        return None
    if (
        not isinstance(stream_id, str)
        or points.ndim != 2
        or points.size == 0
        or not np.isfinite(points).all()
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


def window_points(spec: WindowSpec, points: FloatArray) -> FloatArray:
    if spec.mode == "delay":
        return delay_embedding(points[:, 0], spec.embedding_dimension, spec.embedding_lag)
    return points


def compute_window(
    spec: WindowSpec,
    stream_id: str,
    index: int,
    points: FloatArray,
    last_ingested_ms: int | None,
    previous: bytes | None,
) -> tuple[str, bytes]:
    """The message for window ``index`` as JSON, and its diagrams as the engine's bytes (the
    next window's ``previous``). The engine computes the diagrams, their features and the
    anomaly score and writes their JSON in one call; Python adds the window's identity."""
    started = time.perf_counter()
    features, diagrams = window_features(window_points(spec, points), spec.maxdim, previous)
    head = to_json(
        {
            "kind": "window",
            "stream_id": stream_id,
            "window_index": index,
            "first_event": index * spec.slide,
            "last_event": index * spec.slide + spec.size - 1,
            "size": spec.size,
            "mode": spec.mode,
            "maxdim": spec.maxdim,
        }
    )
    tail = to_json(
        {
            "compute_ms": round((time.perf_counter() - started) * 1000, 3),
            "last_ingested_ms": last_ingested_ms,
            "emitted_ms": time.time_ns() // 1_000_000,
        }
    )
    return b"".join((head[:-1], b",", features, b",", tail[1:])).decode(), diagrams


class DimensionMismatchError(ValueError):
    """Events whose dimension differs from their stream's earlier events."""


State = tuple[int, int, int, bytes, bytes | None]


class StreamWindows:
    """The windows of one stream: the events still needed, and the last window's diagrams.

    The Flink job holds one per stream as a single keyed value, read and written once per
    raw-data message however many events it carries, as :meth:`state` (a few ints and the
    arrays' bytes: a fifth of the time of pickling the object).
    """

    def __init__(self, spec: WindowSpec, stream_id: str) -> None:
        self.spec, self.stream_id = spec, stream_id
        self.seq = 0  # the sequence number of the stream's next event
        self.first = 0  # the sequence number of buffer[0]; first + len(buffer) == seq
        self.buffer: FloatArray | None = None  # events first .. seq-1, one row each
        self.previous: bytes | None = None  # the last window's diagrams, as the engine's bytes

    def state(self) -> State:
        """What :meth:`restore` needs besides the spec and the stream id: plain ints and bytes."""
        width = 0 if self.buffer is None else self.buffer.shape[1]
        buffer = b"" if self.buffer is None else self.buffer.tobytes()
        return self.seq, self.first, width, buffer, self.previous

    @classmethod
    def restore(cls, spec: WindowSpec, stream_id: str, state: State) -> StreamWindows:
        windows = cls(spec, stream_id)
        windows.seq, windows.first, width, buffer, windows.previous = state
        if width:
            windows.buffer = np.frombuffer(buffer, np.float64).reshape(-1, width)
        return windows

    def add(self, points: ArrayLike, ingested_ms: int | None = None) -> list[str]:
        """Append consecutive events (rows); the JSON messages of the windows they complete, in
        order.

        Raises :class:`DimensionMismatchError`, changing nothing, for events whose dimension
        differs from the stream's earlier ones."""
        batch = np.asarray(points, dtype=np.float64)
        if batch.ndim != 2 or (self.buffer is not None and batch.shape[1] != self.buffer.shape[1]):
            raise DimensionMismatchError(
                f"stream {self.stream_id}: events of shape {batch.shape[1:]} after events of "
                f"dimension {None if self.buffer is None else self.buffer.shape[1]}"
            )
        spec = self.spec
        done = spec.complete(self.seq)
        buffer = batch if self.buffer is None else np.concatenate([self.buffer, batch])
        self.seq += len(batch)
        messages = []
        for index in range(done, spec.complete(self.seq)):
            start = index * spec.slide - self.first
            message, self.previous = compute_window(
                spec,
                self.stream_id,
                index,
                buffer[start : start + spec.size],
                ingested_ms,
                self.previous,
            )
            messages.append(message)
        # Keep the events from the first window not yet complete on (none in a gap between
        # windows, when the slide is larger than the size).
        drop = min(max(spec.complete(self.seq) * spec.slide - self.first, 0), len(buffer))
        self.buffer = buffer[drop:].copy() if drop else buffer
        self.first += drop
        return messages


__all__ = [
    "DimensionMismatchError",
    "EventBatch",
    "StreamWindows",
    "WindowSpec",
    "compute_window",
    "parse_events",
    "stream_of",
]
