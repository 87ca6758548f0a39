"""Typed face of the engine's diagram features and of its one-call stream window.

Diagrams are sequences indexed by dimension of (k, 2) float64 arrays, ``inf`` for essential
classes, as :func:`tda_backend.core.vietoris_rips` returns them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tda_backend.core import _core

FloatArray = NDArray[np.float64]


def _pairs(diagram: ArrayLike) -> FloatArray:
    return np.ascontiguousarray(diagram, dtype=np.float64).reshape(-1, 2)


def diagram_features(
    diagrams: Sequence[ArrayLike],
) -> tuple[list[int], list[float], list[float]]:
    """Per dimension: essential classes (Betti numbers), total persistence (sum of the finite
    intervals' lengths), persistent entropy (Shannon entropy of the positive finite lengths,
    normalised to a distribution; 0 if none)."""
    return _core.diagram_features([_pairs(d) for d in diagrams])


def sliced_wasserstein(a: ArrayLike, b: ArrayLike) -> float:
    """Sliced Wasserstein distance between the finite parts of two diagrams (32 fixed
    directions; each diagram completed by the other's projections onto the diagonal)."""
    return _core.sliced_wasserstein(_pairs(a), _pairs(b))


def anomaly_score(previous: Sequence[ArrayLike] | None, current: Sequence[ArrayLike]) -> float:
    """Distance of a window's diagrams to the previous window's: the sliced Wasserstein
    distance plus the change in the number of essential classes, summed over dimensions (0 for
    the first window)."""
    if previous is None:
        return 0.0
    return _core.anomaly_score([_pairs(d) for d in previous], [_pairs(d) for d in current])


def window_features(points: ArrayLike, maxdim: int, previous: bytes | None) -> tuple[bytes, bytes]:
    """One stream window in one call: Euclidean Vietoris-Rips diagrams of ``points`` up to
    ``maxdim`` and their features, as the members (no braces) of a JSON object: ``diagrams``
    (``{"0": [[birth, death | null], ...], ...}``), ``betti``, ``total_persistence``,
    ``persistent_entropy`` and ``anomaly_score`` against ``previous``; and these diagrams as
    opaque bytes, the next window's ``previous`` (None for a stream's first window)."""
    return _core.window_features(
        np.ascontiguousarray(points, dtype=np.float64), int(maxdim), previous
    )
