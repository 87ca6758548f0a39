"""Typed Python face of the engine: results, cancellation and Vietoris–Rips persistence."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tda_backend.core import _core

ENGINE_VERSION: str = vars(_core)["__version__"]  # a module attribute the stub omits
CancelToken = _core.CancelToken
Cancelled = _core.Cancelled
ResourceError = _core.ResourceError

METRICS = ("euclidean", "manhattan", "chebyshev", "cosine")
ProgressCallback = Callable[[float], object]


@dataclass(frozen=True)
class Estimate:
    """Simplex counts per dimension (upper bounds) and the expected peak memory in bytes."""

    simplices: list[float]
    bytes: float


@dataclass(frozen=True)
class PersistenceResult:
    """Persistence diagrams indexed by dimension, each a float64 array of shape (k, 2).

    An essential class has death ``inf``; pairs of zero persistence are omitted.
    ``birth_simplices`` / ``death_simplices`` hold, per dimension and pair, the vertex indices of
    the simplices whose values are the birth and the death (empty for an essential class) when
    representatives were requested, else ``None``.
    """

    diagrams: list[NDArray[np.float64]]
    birth_simplices: list[list[NDArray[np.int64]]] | None = None
    death_simplices: list[list[NDArray[np.int64]]] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def betti(self) -> list[int]:
        """Number of essential classes in each dimension."""
        return [int(np.isinf(d[:, 1]).sum()) for d in self.diagrams]


def check_coeff(coeff: int) -> int:
    """Return coeff when it is a prime below 2^31, else raise ValueError."""
    if isinstance(coeff, bool) or not isinstance(coeff, int | np.integer):
        raise ValueError(f"coeff must be an integer prime, got {coeff!r}")
    p = int(coeff)
    if p < 2 or p >= 2**31 or any(p % q == 0 for q in range(2, math.isqrt(p) + 1)):
        raise ValueError(f"coeff must be a prime below 2^31, got {p}")
    return p


def check_int(name: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def memory_budget_bytes(memory_budget_mb: float | None) -> int:
    if memory_budget_mb is None:
        return 0
    if not memory_budget_mb > 0:
        raise ValueError(f"memory_budget_mb must be positive, got {memory_budget_mb!r}")
    return int(memory_budget_mb * 1_000_000)


def as_float_matrix(data: ArrayLike, name: str) -> NDArray[np.float64]:
    try:
        array = np.ascontiguousarray(np.asarray(data, dtype=np.float64))
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be a rectangular array of numbers: {error}") from None
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-dimensional array, got {array.ndim} dimension(s)")
    if array.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.isfinite(array).all():
        row, col = np.argwhere(~np.isfinite(array))[0]
        raise ValueError(f"{name} has a non-finite value at ({row}, {col}): {array[row, col]}")
    return array


def _threshold(threshold: float | None) -> float | None:
    if threshold is None:
        return None
    value = float(threshold)
    if math.isnan(value) or value < 0:
        raise ValueError(f"threshold must be a non-negative number, got {threshold!r}")
    return value


def _rips_input(
    data: Any, metric: str, distance_matrix: bool, threshold: float | None, n_threads: int
) -> Any:
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    if distance_matrix and hasattr(data, "tocoo"):
        coo = data.tocoo()
        n, m = coo.shape
        if n != m:
            raise ValueError(f"a distance matrix must be square, got shape ({n}, {m})")
        values = np.ascontiguousarray(coo.data, dtype=np.float64)
        if not np.isfinite(values).all():
            raise ValueError("the sparse distance matrix has a non-finite value")
        if (values < 0).any():
            raise ValueError("the sparse distance matrix has a negative value")
        on_diagonal = (coo.row == coo.col) & (values != 0)
        if on_diagonal.any():
            k = int(np.argmax(on_diagonal))
            raise ValueError(
                f"the sparse distance matrix has a nonzero diagonal entry ({coo.row[k]},"
                f" {coo.col[k]}) = {values[k]}; vertices are born at 0 (diagonal entries must"
                " be 0 or absent)"
            )
        return _core.rips_input_from_sparse(
            int(n),
            np.ascontiguousarray(coo.row, dtype=np.int64),
            np.ascontiguousarray(coo.col, dtype=np.int64),
            values,
        )
    if distance_matrix:
        matrix = as_float_matrix(data, "the distance matrix")
        if (matrix < 0).any():
            row, col = np.argwhere(matrix < 0)[0]
            raise ValueError(f"the distance matrix has a negative entry at ({row}, {col})")
        return _core.rips_input_from_matrix(matrix)
    points = as_float_matrix(data, "the point cloud")
    return _core.rips_input_from_points(points, metric, threshold, n_threads)


def vietoris_rips(
    data: ArrayLike,
    *,
    maxdim: int = 1,
    threshold: float | None = None,
    coeff: int = 2,
    metric: str = "euclidean",
    distance_matrix: bool = False,
    n_threads: int = 1,
    representatives: bool = False,
    memory_budget_mb: float | None = None,
    progress: ProgressCallback | None = None,
    cancel: Any | None = None,
) -> PersistenceResult:
    """Persistent homology of the Vietoris–Rips filtration, dimensions 0..maxdim, over Z/coeff.

    ``data`` is an (n, d) point cloud, or with ``distance_matrix=True`` an (n, n) symmetric
    distance matrix or a SciPy sparse matrix (missing entries are +inf). ``threshold`` bounds
    the diameters (default: the enclosing radius, which changes no finite interval).
    ``progress`` receives fractions in [0, 1]; a raised ``cancel`` token stops the computation
    with :class:`Cancelled`. Raises ValueError naming the problem for bad input and
    :class:`ResourceError` when ``memory_budget_mb`` would be exceeded.
    """
    maxdim = check_int("maxdim", maxdim, 0)
    n_threads = check_int("n_threads", n_threads, 1)
    p = check_coeff(coeff)
    limit = _threshold(threshold)
    started = time.perf_counter()
    shape = getattr(data, "shape", None)
    n_rows = shape[0] if shape else len(data) if isinstance(data, list | tuple) else 0
    if n_rows > 0:
        # Before any O(n^2) work: refuse sizes whose simplex indices overflow.
        _core.check_index_range(int(n_rows), maxdim, p)
    rips_input = _rips_input(data, metric, distance_matrix, limit, n_threads)
    raw = _core.vietoris_rips(
        rips_input,
        maxdim,
        limit,
        p,
        n_threads,
        bool(representatives),
        progress,
        cancel,
        memory_budget_bytes(memory_budget_mb),
    )
    metadata = {
        "engine_version": ENGINE_VERSION,
        "complex": "vietoris-rips",
        "maxdim": maxdim,
        "coeff": p,
        "threshold": raw["threshold"],
        "n_points": rips_input.n_points,
        "metric": "precomputed" if distance_matrix else metric,
        "values": "diameter",
        "n_threads": n_threads,
        "duration_s": time.perf_counter() - started,
    }
    return PersistenceResult(
        diagrams=raw["diagrams"],
        birth_simplices=raw["birth_simplices"],
        death_simplices=raw["death_simplices"],
        metadata=metadata,
    )


def estimate_rips(
    data: ArrayLike,
    *,
    maxdim: int = 1,
    threshold: float | None = None,
    metric: str = "euclidean",
    distance_matrix: bool = False,
) -> Estimate:
    """Cheap estimate of simplex counts (upper bounds) and peak memory of :func:`vietoris_rips`."""
    maxdim = check_int("maxdim", maxdim, 0)
    limit = _threshold(threshold)
    rips_input = _rips_input(data, metric, distance_matrix, limit, 1)
    simplices, nbytes = _core.estimate_rips(rips_input, maxdim, limit)
    return Estimate(simplices=list(simplices), bytes=float(nbytes))
