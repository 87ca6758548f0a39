"""Features of a persistence diagram, as the windowed job and the job hook emit them.

Diagrams are a list indexed by dimension of (k, 2) float64 arrays with ``inf`` for essential
classes, as :func:`tda_backend.core.vietoris_rips` returns them. In JSON they take the REST
results' shape:
``{"0": [[birth, death | null], ...], ...}``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

# Directions of the sliced Wasserstein distance: fixed, so that scores are comparable over time.
SLICES = 32
_ANGLES = np.linspace(-math.pi / 2, math.pi / 2, SLICES, endpoint=False)
_DIRECTIONS = np.stack([np.cos(_ANGLES), np.sin(_ANGLES)], axis=1)
# Half the sum of each direction's components: the projection of the diagonal point ((b+d)/2,
# (b+d)/2) onto a direction is (b+d) times this.
_DIAGONAL = (_DIRECTIONS[:, 0] + _DIRECTIONS[:, 1]) / 2


def diagrams_to_json(diagrams: Sequence[FloatArray]) -> dict[str, list[list[float | None]]]:
    return {
        str(dim): [[b, None if math.isinf(d) else d] for b, d in np.asarray(dgm).tolist()]
        for dim, dgm in enumerate(diagrams)
    }


def diagrams_from_json(document: dict[str, list[list[float | None]]]) -> list[FloatArray]:
    out = []
    for dim in sorted(document, key=int):
        pairs = [[b, math.inf if d is None else d] for b, d in document[dim]]
        out.append(np.asarray(pairs, dtype=np.float64).reshape(-1, 2))
    return out


def _finite(diagram: FloatArray) -> FloatArray:
    finite: FloatArray = diagram[np.isfinite(diagram[:, 1])]
    return finite


def _entropy(lengths: FloatArray) -> float:
    lengths = lengths[lengths > 0]
    if lengths.size == 0:
        return 0.0
    p = lengths / lengths.sum()
    return float(-(p * np.log(p)).sum())


def persistent_entropy(diagram: FloatArray) -> float:
    """Shannon entropy of the finite bars' lengths, normalised to a distribution (0 if none)."""
    finite = _finite(diagram)
    return _entropy(finite[:, 1] - finite[:, 0])


def diagram_features(diagrams: Sequence[FloatArray]) -> dict[str, Any]:
    """``betti`` (essential classes per dimension), and per dimension the total persistence
    (sum of finite bar lengths) and the persistent entropy."""
    betti, total, entropy = [], {}, {}
    for dim, diagram in enumerate(diagrams):
        finite = _finite(diagram)
        lengths = finite[:, 1] - finite[:, 0]
        betti.append(len(diagram) - len(finite))
        total[str(dim)] = float(lengths.sum())
        entropy[str(dim)] = _entropy(lengths)
    return {"betti": betti, "total_persistence": total, "persistent_entropy": entropy}


def sliced_wasserstein(a: FloatArray, b: FloatArray) -> float:
    """Sliced Wasserstein distance between the finite parts of two diagrams.

    Each diagram is completed by the other's projections onto the diagonal so that both have the
    same number of points; then the 1-Wasserstein distances of their projections onto fixed
    directions are averaged (Carrière, Cuturi, Oudot 2017). Cheap (sorting), stable, and a metric.
    """
    a, b = _finite(a), _finite(b)
    if a.size == 0 and b.size == 0:
        return 0.0
    # One row per direction, so that each sort runs over contiguous memory.
    left = np.concatenate([_DIRECTIONS @ a.T, np.outer(_DIAGONAL, b.sum(axis=1))], axis=1)
    right = np.concatenate([_DIRECTIONS @ b.T, np.outer(_DIAGONAL, a.sum(axis=1))], axis=1)
    left.sort(axis=1)
    right.sort(axis=1)
    return float(np.abs(left - right).sum() / SLICES)


def anomaly_score(previous: Sequence[FloatArray] | None, current: Sequence[FloatArray]) -> float:
    """Distance of a window's diagrams to the previous window's: sliced Wasserstein summed over
    dimensions, plus the change in the number of essential classes (0 for the first window)."""
    if previous is None:
        return 0.0
    score = 0.0
    for dim in range(max(len(previous), len(current))):
        p = previous[dim] if dim < len(previous) else np.empty((0, 2))
        c = current[dim] if dim < len(current) else np.empty((0, 2))
        score += sliced_wasserstein(p, c)
        score += abs(int(np.isinf(p[:, 1]).sum()) - int(np.isinf(c[:, 1]).sum()))
    return score
