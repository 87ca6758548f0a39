"""The engine's diagram features and stream window against NumPy references written here."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tda_backend.core import vietoris_rips
from tda_backend.core.features import (
    anomaly_score,
    diagram_features,
    sliced_wasserstein,
    window_features,
)
from tda_backend.flink.features import diagrams_from_json

ANGLES = np.linspace(-math.pi / 2, math.pi / 2, 32, endpoint=False)
DIRECTIONS = np.stack([np.cos(ANGLES), np.sin(ANGLES)], axis=1)


def finite(d: np.ndarray) -> np.ndarray:
    return d[np.isfinite(d[:, 1])]


def reference_entropy(d: np.ndarray) -> float:
    lengths = np.diff(finite(d), axis=1).ravel()
    lengths = lengths[lengths > 0]
    if lengths.size == 0:
        return 0.0
    p = lengths / lengths.sum()
    return float(-(p * np.log(p)).sum())


def reference_sliced_wasserstein(a: np.ndarray, b: np.ndarray) -> float:
    a, b = finite(a), finite(b)
    total = 0.0
    for direction in DIRECTIONS:
        diagonal = direction.sum() / 2
        left = np.concatenate([a @ direction, b.sum(axis=1) * diagonal])
        right = np.concatenate([b @ direction, a.sum(axis=1) * diagonal])
        total += np.abs(np.sort(left) - np.sort(right)).sum()
    return total / 32


def random_diagram(rng: np.random.Generator, k: int, essential: int) -> np.ndarray:
    births = rng.random(k)
    pairs = np.stack([births, births + rng.random(k) * rng.integers(0, 2, k)], axis=1)
    return np.concatenate([pairs, np.stack([rng.random(essential), np.full(essential, np.inf)], 1)])


@pytest.mark.parametrize("seed", range(20))
def test_features_and_distance_equal_the_references(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = random_diagram(rng, int(rng.integers(0, 30)), int(rng.integers(0, 3)))
    b = random_diagram(rng, int(rng.integers(0, 30)), int(rng.integers(0, 3)))
    betti, total, entropy = diagram_features([a, b])
    assert betti == [int(np.isinf(a[:, 1]).sum()), int(np.isinf(b[:, 1]).sum())]
    for d, t, e in zip([a, b], total, entropy, strict=True):
        assert t == pytest.approx(float(np.diff(finite(d), axis=1).sum()), rel=1e-12, abs=1e-15)
        assert e == pytest.approx(reference_entropy(d), rel=1e-12, abs=1e-15)
    want = reference_sliced_wasserstein(a, b)
    assert sliced_wasserstein(a, b) == pytest.approx(want, rel=1e-12, abs=1e-15)
    assert sliced_wasserstein(b, a) == pytest.approx(want, rel=1e-12, abs=1e-15)
    score = anomaly_score([a, b], [b])
    empty = np.empty((0, 2))
    expected = (
        reference_sliced_wasserstein(a, b)
        + abs(int(np.isinf(a[:, 1]).sum()) - int(np.isinf(b[:, 1]).sum()))
        + reference_sliced_wasserstein(b, empty)
        + int(np.isinf(b[:, 1]).sum())
    )
    assert score == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert anomaly_score(None, [a]) == 0.0


@pytest.mark.parametrize(("n", "dim", "maxdim"), [(1, 2, 1), (2, 1, 0), (40, 2, 1), (30, 3, 2)])
def test_a_window_is_the_engine_and_the_features_in_json(n: int, dim: int, maxdim: int) -> None:
    rng = np.random.default_rng(n)
    first, second = rng.random((n, dim)), rng.random((n, dim))
    body, state = window_features(first, maxdim, None)
    message = json.loads(b"{" + body + b"}")
    want = [np.asarray(d) for d in vietoris_rips(first, maxdim=maxdim).diagrams]
    for got, expected in zip(diagrams_from_json(message["diagrams"]), want, strict=True):
        np.testing.assert_array_equal(got, expected)
    betti, total, entropy = diagram_features(want)
    assert message["betti"] == betti
    assert message["total_persistence"] == {str(k): v for k, v in enumerate(total)}
    assert message["persistent_entropy"] == {str(k): v for k, v in enumerate(entropy)}
    assert message["anomaly_score"] == 0.0
    body, _ = window_features(second, maxdim, state)
    following = json.loads(b"{" + body + b"}")
    current = [np.asarray(d) for d in vietoris_rips(second, maxdim=maxdim).diagrams]
    assert following["anomaly_score"] == anomaly_score(want, current)


def test_numbers_are_written_as_python_writes_floats() -> None:
    body, _ = window_features(np.array([[0.0], [1.0], [3.0]]), 0, None)
    assert body.startswith(b'"diagrams":{"0":[[0.0,1.0],[0.0,2.0],[0.0,null]]}')


@pytest.mark.parametrize("previous", [b"", b"\x01", b"\x05" + b"\x00" * 7, b"\xff" * 24])
def test_malformed_previous_diagrams_are_a_value_error(previous: bytes) -> None:
    with pytest.raises(ValueError, match="previous window"):
        window_features(np.zeros((3, 2)), 1, previous)
