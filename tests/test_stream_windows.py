"""The windowed job's state machine and message format, without Kafka or Flink."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from tda_backend.core import vietoris_rips
from tda_backend.flink.features import diagrams_from_json
from tda_backend.flink.windows import (
    DimensionMismatchError,
    StreamWindows,
    WindowSpec,
    parse_events,
    stream_of,
)


def windows_of(spec: WindowSpec, points: list[list[float]], batches: list[int]) -> list[dict]:
    """Feed ``points`` in consecutive batches of the given sizes, through the Flink job's state
    between batches: :meth:`StreamWindows.state`, pickled, and restored."""
    state = StreamWindows(spec, "s")
    out, start = [], 0
    for size in batches:
        out += [json.loads(m) for m in state.add(points[start : start + size], ingested_ms=start)]
        state = StreamWindows.restore(spec, "s", pickle.loads(pickle.dumps(state.state())))
        start += size
    assert start == len(points)
    return out


@pytest.mark.parametrize(("size", "slide"), [(10, 5), (10, 10), (10, 3), (4, 7), (2, 1)])
@pytest.mark.parametrize("batches", [[1] * 60, [60], [7, 1, 23, 29], [13, 13, 13, 21]])
def test_batches_give_the_windows_of_the_definition(
    size: int, slide: int, batches: list[int]
) -> None:
    rng = np.random.default_rng(size * 100 + slide)
    points = rng.random((60, 2)).tolist()
    spec = WindowSpec(size, slide, maxdim=1)
    messages = windows_of(spec, points, batches)
    expected = [k for k in range(60) if k * slide + size <= 60]
    assert [m["window_index"] for m in messages] == expected
    for m in messages:
        k = m["window_index"]
        assert (m["first_event"], m["last_event"]) == (k * slide, k * slide + size - 1)
        window = np.asarray(points[k * slide : k * slide + size])
        want = vietoris_rips(window, maxdim=1).diagrams
        got = diagrams_from_json(m["diagrams"])
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(np.sort(g, axis=0), np.sort(np.asarray(w), axis=0))


def test_batching_does_not_change_the_messages() -> None:
    points = np.random.default_rng(3).random((50, 3)).tolist()
    spec = WindowSpec(12, 4, maxdim=1)

    def stable(messages: list[dict]) -> list[dict]:
        drop = {"compute_ms", "emitted_ms", "last_ingested_ms"}
        return [{k: v for k, v in m.items() if k not in drop} for m in messages]

    assert stable(windows_of(spec, points, [50])) == stable(windows_of(spec, points, [1] * 50))


def test_messages_of_both_shapes_parse() -> None:
    batch = parse_events(
        json.dumps({"stream_id": "a", "points": [[1, 2], [3, 4]], "ingested_ms": 7})
    )
    assert batch is not None
    assert (batch.stream_id, batch.points.tolist(), batch.ingested_ms) == (
        "a",
        [[1.0, 2.0], [3.0, 4.0]],
        7,
    )
    single = parse_events(b'{"stream_id": "b", "point": [5]}')
    assert single is not None
    assert (single.stream_id, single.points.tolist(), single.ingested_ms) == ("b", [[5.0]], None)


def test_events_of_another_dimension_are_refused_without_changing_the_state() -> None:
    state = StreamWindows(WindowSpec(4, 2, maxdim=0), "s")
    assert state.add([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]) == []
    with pytest.raises(DimensionMismatchError):
        state.add([[1.0, 1.0, 1.0]])
    [message] = state.add([[1.0, 1.0]])
    window = json.loads(message)
    assert (window["first_event"], window["last_event"]) == (0, 3)


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        '{"points": [[1]]}',
        '{"stream_id": 3, "point": [1]}',
        '{"stream_id": "a", "points": []}',
        '{"stream_id": "a", "points": [[]]}',
        '{"stream_id": "a", "point": ["x"]}',
        '{"stream_id": "a", "points": [[1], [Infinity]]}',
        '{"stream_id": "a", "points": [[1], [2, 3]]}',
        '{"stream_id": "a", "points": [1, 2]}',
    ],
)
def test_messages_that_are_not_events_are_none(raw: str) -> None:
    assert parse_events(raw) is None


def test_the_stream_id_is_read_without_the_events() -> None:
    assert stream_of('{"points": [[1]], "stream_id": "a"}') == "a"
    assert stream_of(b'{"stream_id": "b", "point": ["x"]}') == "b"
    for raw in ("not json", "[1]", '{"points": [[1]]}', '{"stream_id": 3, "point": [1]}'):
        assert stream_of(raw) is None


@pytest.mark.parametrize(("dimension", "lag"), [(2, 1), (3, 2), (4, 3)])
@pytest.mark.parametrize("batches", [[1] * 45, [45], [8, 17, 20]])
def test_delay_mode_windows_are_the_persistence_of_the_delay_embedding(
    dimension: int, lag: int, batches: list[int]
) -> None:
    """Time-series mode: a window's scalar samples x[0..size-1] become the points
    (x[i], x[i+lag], ..., x[i+(dimension-1)*lag]), i = 0 .. size-1-(dimension-1)*lag."""
    t = np.arange(45)
    samples = np.sin(0.4 * t) + 0.05 * np.random.default_rng(dimension * 10 + lag).random(45)
    spec = WindowSpec(
        15, 5, maxdim=1, mode="delay", embedding_dimension=dimension, embedding_lag=lag
    )
    messages = windows_of(spec, [[x] for x in samples], batches)
    assert [m["window_index"] for m in messages] == list(range(7))
    for m in messages:
        k = m["window_index"]
        window = samples[k * 5 : k * 5 + 15]
        count = 15 - (dimension - 1) * lag
        cloud = np.array([[window[i + j * lag] for j in range(dimension)] for i in range(count)])
        want = vietoris_rips(cloud, maxdim=1).diagrams
        got = diagrams_from_json(m["diagrams"])
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(np.sort(g, axis=0), np.sort(np.asarray(w), axis=0))
        assert m["mode"] == "delay"


def test_a_delay_embedding_that_leaves_fewer_than_two_points_is_refused() -> None:
    with pytest.raises(ValueError, match="fewer than 2 points"):
        WindowSpec(5, 1, mode="delay", embedding_dimension=3, embedding_lag=2)
