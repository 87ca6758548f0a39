"""Diagrams and their features in the JSON of the messages the windowed job and the job hook emit.

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

from tda_backend.core import features as core_features

FloatArray = NDArray[np.float64]


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


def diagram_features(diagrams: Sequence[FloatArray]) -> dict[str, Any]:
    """``betti`` (essential classes per dimension), and per dimension the total persistence
    (sum of finite bar lengths) and the persistent entropy, as the messages carry them."""
    betti, total, entropy = core_features.diagram_features(diagrams)
    return {
        "betti": betti,
        "total_persistence": {str(dim): value for dim, value in enumerate(total)},
        "persistent_entropy": {str(dim): value for dim, value in enumerate(entropy)},
    }
