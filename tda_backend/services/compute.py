"""The bridge to the engine: parameters in, result documents out.

Everything here is synchronous and runs on a worker thread; the engine releases the GIL while it
computes and reports progress and honours cancellation through the callbacks it is given.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tda_backend import core
from tda_backend.models.data import DataKind
from tda_backend.models.jobs import Algorithm
from tda_backend.services.errors import InvalidInputError
from tda_backend.services.parsing import FloatArray

LONGEST_BARS = 5
_CONVENTIONS: dict[str, str] = {
    "vietoris-rips": "filtration value of a simplex = its diameter (longest edge)",
    "alpha-complex/squared_radius": "filtration value = squared circumradius (GUDHI convention)",
    "alpha-complex/radius": "filtration value = circumradius (square root of GUDHI's values)",
}


@dataclass(frozen=True)
class Computation:
    """What to compute: the algorithm, its result-defining parameters, and the data's kind."""

    algorithm: Algorithm
    params: dict[str, Any]
    kind: DataKind
    n_threads: int = 1

    def check(self) -> None:
        """Refuse combinations the request models cannot see (they depend on the data)."""
        if self.algorithm == "alpha-complex" and self.kind != "point_cloud":
            raise InvalidInputError(
                "data_id: the alpha complex needs a point cloud; this data is a distance matrix"
                " (use vietoris-rips)",
                field="data_id",
            )
        if (
            self.algorithm == "vietoris-rips"
            and self.kind == "distance_matrix"
            and self.params.get("metric", "euclidean") != "euclidean"
        ):
            raise InvalidInputError(
                "metric: a distance matrix already holds the distances; leave metric unset",
                field="metric",
            )


def result_key(data_sha256: str, computation: Computation) -> str:
    """The identity of a result: same data bytes and same parameters give the same key."""
    identity = {
        "data": data_sha256,
        "kind": computation.kind,
        "algorithm": computation.algorithm,
        "params": computation.params,
        "engine": core.ENGINE_VERSION,
    }
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def estimate_mb(computation: Computation, data: FloatArray) -> float:
    """The engine's estimate of the memory the computation needs, in MB (10^6 bytes, as the
    engine's ``memory_budget_mb``)."""
    params = computation.params
    if computation.algorithm == "vietoris-rips":
        estimate = core.estimate_rips(
            data,
            maxdim=params["maxdim"],
            threshold=params["threshold"],
            metric=params["metric"],
            distance_matrix=computation.kind == "distance_matrix",
        )
    else:
        estimate = core.estimate_alpha(data, maxdim=params["maxdim"])
    return float(estimate.bytes) / 1e6


def bound_mb(computation: Computation, n_points: int) -> float | None:
    """An upper bound of ``estimate_mb`` from the number of points alone, for every data of that
    size; None where there is none (the alpha complex: its estimate needs the array).

    It repeats the terms of the engine's Vietoris-Rips estimate (``estimate_rips`` in
    cpp/src/rips.cpp) at their largest: k-simplices are at most C(n, k+1), all pairs within the
    threshold; the distances at most the neighbour lists of every pair (16 bytes an entry, two per
    pair, 8 per point), which also exceed the dense lower triangle; a column entry is 16 bytes.
    A test holds the engine to it.
    """
    if computation.algorithm != "vietoris-rips":
        return None
    maxdim = int(computation.params["maxdim"])

    def simplices(k: int) -> int:
        return math.comb(n_points, k + 1) if k >= 0 else 0

    entry = 16
    distances = 16 * n_points * (n_points - 1) + 8 * n_points
    reduction = entry * (simplices(maxdim) + simplices(maxdim - 1)) + 2 * 16 * simplices(maxdim)
    return (distances + max(entry * simplices(1) * 2, reduction)) / 1e6


def check_memory(computation: Computation, data: FloatArray, budget_mb: float) -> None:
    """Refuse, before queueing, a computation whose estimate exceeds the budget."""
    needed = estimate_mb(computation, data)
    if needed > budget_mb:
        advice = (
            "lower maxdim, set a smaller threshold, or use fewer points"
            if computation.algorithm == "vietoris-rips"
            else "lower maxdim or use fewer points"
        )
        raise InvalidInputError(
            f"maxdim: this computation would need about {needed:,.0f} MB, more than the"
            f" {budget_mb:,.0f} MB allowed (MAX_JOB_MEMORY_MB); {advice}",
            field="maxdim",
        )


def run(
    computation: Computation,
    data: FloatArray,
    *,
    memory_budget_mb: float,
    progress: Callable[[float], None] | None = None,
    cancel: core.CancelToken | None = None,
) -> core.PersistenceResult:
    params = computation.params
    if computation.algorithm == "vietoris-rips":
        result: core.PersistenceResult = core.vietoris_rips(
            data,
            maxdim=params["maxdim"],
            threshold=params["threshold"],
            coeff=params["coeff"],
            metric=params["metric"],
            distance_matrix=computation.kind == "distance_matrix",
            n_threads=computation.n_threads,
            representatives=params["representatives"],
            memory_budget_mb=memory_budget_mb,
            progress=progress,
            cancel=cancel,
        )
        return result
    alpha: core.PersistenceResult = core.alpha_complex(
        data,
        maxdim=params["maxdim"],
        values=params["values"],
        coeff=params["coeff"],
        representatives=params["representatives"],
        memory_budget_mb=memory_budget_mb,
        progress=progress,
        cancel=cancel,
    )
    return alpha


def _pairs(diagram: FloatArray) -> list[list[float | None]]:
    return [[b, None if math.isinf(d) else d] for b, d in diagram.tolist()]


def _bar_length(pair: list[float | None]) -> float:
    birth, death = pair
    assert birth is not None
    return math.inf if death is None else death - birth


def summarize(diagrams: dict[str, list[list[float | None]]]) -> dict[str, Any]:
    summary: dict[str, dict[str, Any]] = {
        "pairs": {},
        "essential": {},
        "total_persistence": {},
        "longest_bars": {},
    }
    for dim, pairs in diagrams.items():
        finite = [_bar_length(p) for p in pairs if p[1] is not None]
        summary["pairs"][dim] = len(pairs)
        summary["essential"][dim] = len(pairs) - len(finite)
        summary["total_persistence"][dim] = math.fsum(finite)
        summary["longest_bars"][dim] = sorted(pairs, key=_bar_length, reverse=True)[:LONGEST_BARS]
    return summary


def _plain(value: Any) -> Any:
    """Metadata values as JSON has them (numpy scalars to Python, infinities to null)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def result_document(
    result: core.PersistenceResult, computation: Computation, data_sha256: str
) -> dict[str, Any]:
    """The stored, job-independent result: what ``GET /tda/results/{job_id}`` returns."""
    diagrams = {str(dim): _pairs(np.asarray(d)) for dim, d in enumerate(result.diagrams)}
    document: dict[str, Any] = {
        "algorithm": computation.algorithm,
        "diagrams": diagrams,
        "betti": [int(b) for b in result.betti()],
        "summary": summarize(diagrams),
    }
    if computation.params.get("representatives") and result.birth_simplices is not None:
        deaths = result.death_simplices or [[] for _ in result.birth_simplices]
        document["representatives"] = {
            str(dim): [
                {"birth_simplex": np.asarray(b).tolist(), "death_simplex": np.asarray(d).tolist()}
                for b, d in zip(births, dim_deaths, strict=True)
            ]
            for dim, (births, dim_deaths) in enumerate(
                zip(result.birth_simplices, deaths, strict=True)
            )
        }
    convention_key = computation.algorithm
    if computation.algorithm == "alpha-complex":
        convention_key += "/" + computation.params["values"]
    metadata = _plain(dict(result.metadata))
    metadata.update(
        convention=_CONVENTIONS[convention_key],
        coefficient_field=f"Z/{computation.params['coeff']}Z",
        data_kind=computation.kind,
        data_sha256=data_sha256,
        params=computation.params,
    )
    document["metadata"] = metadata
    return document


def encode_document(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), allow_nan=False).encode()
