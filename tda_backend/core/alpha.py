"""Alpha-complex persistence: the Delaunay filtration of a point cloud in R^d."""

from __future__ import annotations

import time
from typing import Any

from numpy.typing import ArrayLike

from tda_backend.core import _core
from tda_backend.core.rips import (
    ENGINE_VERSION,
    Estimate,
    PersistenceResult,
    ProgressCallback,
    as_float_matrix,
    check_coeff,
    check_int,
    memory_budget_bytes,
)

VALUES = ("squared_radius", "radius")


def _maxdim(maxdim: int | None) -> int:
    return -1 if maxdim is None else check_int("maxdim", maxdim, 0)


def alpha_complex(
    points: ArrayLike,
    *,
    maxdim: int | None = None,
    values: str = "squared_radius",
    coeff: int = 2,
    representatives: bool = False,
    memory_budget_mb: float | None = None,
    progress: ProgressCallback | None = None,
    cancel: Any | None = None,
) -> PersistenceResult:
    """Persistent homology of the alpha filtration of an (n, d) point cloud over Z/coeff.

    The filtration is the Delaunay triangulation, each simplex entering at the squared radius
    of its smallest empty circumsphere, as GUDHI's ``AlphaComplex`` defines it
    (``values="squared_radius"``, the default) or at its square root (``values="radius"``); the
    diagrams equal those of the growing union of balls. Dimensions 0..d-1 are computed, or
    0..``maxdim``. Duplicate points, lattices and points on a lower-dimensional flat are
    handled exactly. ``progress`` receives fractions in [0, 1]; a raised ``cancel`` token stops
    the computation with :class:`Cancelled`. Raises ValueError naming the problem for bad input
    and :class:`ResourceError` when ``memory_budget_mb`` would be exceeded.

    ``metadata`` records the convention (``"values"``), ``"complex": "alpha"``, the size of the
    Delaunay complex per dimension and the time spent in each stage.
    """
    if values not in VALUES:
        raise ValueError(f"values must be one of {', '.join(VALUES)}, got {values!r}")
    requested = _maxdim(maxdim)
    p = check_coeff(coeff)
    array = as_float_matrix(points, "the point cloud")
    started = time.perf_counter()
    raw = _core.alpha_complex(
        array,
        requested,
        values == "squared_radius",
        p,
        bool(representatives),
        progress,
        cancel,
        memory_budget_bytes(memory_budget_mb),
    )
    stats = raw["stats"]
    metadata = {
        "engine_version": ENGINE_VERSION,
        "complex": "alpha",
        "values": values,
        "maxdim": len(raw["diagrams"]) - 1,
        "coeff": p,
        "n_points": int(array.shape[0]),
        "dimension": int(array.shape[1]),
        "n_distinct_points": stats["n_distinct_points"],
        "affine_dimension": stats["affine_dimension"],
        "simplices": list(stats["simplices"]),
        "timings": dict(stats["timings"]),
        "duration_s": time.perf_counter() - started,
    }
    return PersistenceResult(
        diagrams=raw["diagrams"],
        birth_simplices=raw["birth_simplices"],
        death_simplices=raw["death_simplices"],
        metadata=metadata,
    )


def estimate_alpha(points: ArrayLike, *, maxdim: int | None = None) -> Estimate:
    """Expected simplex counts per dimension and peak memory of :func:`alpha_complex`.

    Counts are those of a uniform sample in general position (exact in expectation for d <= 3,
    rough above); clustered or degenerate data may differ.
    """
    array = as_float_matrix(points, "the point cloud")
    simplices, nbytes = _core.estimate_alpha(array, _maxdim(maxdim))
    return Estimate(simplices=list(simplices), bytes=float(nbytes))
