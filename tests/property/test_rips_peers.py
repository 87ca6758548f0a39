"""Vietoris-Rips diagrams of the engine against three independent peers on seeded random inputs.

Peers: ripser.py (`ripser`), giotto-ph (`gph.ripser_parallel`) and GUDHI (`gudhi.SimplexTree`).

Floating point. ripser.py and giotto-ph store distances as float32; GUDHI and the engine use
double. A persistence diagram depends only on the order of the filtration values, and rounding
is monotone, so the diagram of a rounded filtration is the rounded diagram of the exact one.
The choice made here:
- distance-matrix inputs (dense, sparse, tied integers) are made of float32-representable
  values and given identically to the engine and to all three peers, so every peer must agree
  with the engine within 1e-9 relative (in practice exactly);
- point clouds go to the engine as float64 points (it computes the distances). GUDHI gets the
  same points and computes its own double distances: compared within 1e-9 relative. ripser.py
  and giotto-ph get the float32 rounding of scipy's double distance matrix, and are compared
  with the engine's diagram rounded to float32 (same tolerance); thresholds for point clouds
  are chosen inside a clear gap between distances so that no edge changes sides on rounding.

Zero-persistence pairs are omitted by every tool, but not always by the same test (and rounding
can create new ones), so both sides drop pairs whose birth equals their death before comparing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import gudhi
import numpy as np
import pytest
import ripser
import scipy.sparse
from gph import ripser_parallel
from numpy.typing import NDArray
from scipy.spatial.distance import cdist

from tda_backend.core import vietoris_rips

pytestmark = pytest.mark.property

Diagram = NDArray[np.float64]
RTOL = 1e-9
PRIMES = (2, 3, 5, 7)
N_CASES = 400


# --------------------------------------------------------------------------------------------
# Diagram normalisation and comparison


def normalise(diagram: Any, *, to_float32: bool = False) -> Diagram:
    """(k, 2) float64 array without zero-persistence pairs, sorted by (birth, death)."""
    arr = np.asarray(diagram, dtype=np.float64).reshape(-1, 2)
    if to_float32:
        arr = arr.astype(np.float32).astype(np.float64)
    arr = arr[arr[:, 0] != arr[:, 1]]
    return arr[np.lexsort((arr[:, 1], arr[:, 0]))]


def _close(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.bool_]:
    both_inf = np.isinf(a) & np.isinf(b) & (np.sign(a) == np.sign(b))
    with np.errstate(invalid="ignore"):
        near = np.abs(a - b) <= RTOL * np.maximum(np.abs(a), np.abs(b))
    return both_inf | near


def diagram_difference(ours: Diagram, theirs: Diagram) -> str | None:
    """None when the multisets agree within RTOL; otherwise a description of what differs."""
    n_ess_ours = int(np.isinf(ours[:, 1]).sum())
    n_ess_theirs = int(np.isinf(theirs[:, 1]).sum())
    if len(ours) == len(theirs) and _close(ours, theirs).all():
        return None
    # Sorting can misalign pairs whose births differ by less than the tolerance: match greedily.
    unmatched = list(range(len(theirs)))
    extra: list[tuple[float, float]] = []
    for row in ours:
        hit = next((j for j in unmatched if _close(row, theirs[j]).all()), None)
        if hit is None:
            extra.append((float(row[0]), float(row[1])))
        else:
            unmatched.remove(hit)
    if not extra and not unmatched:
        return None
    missing = [(float(theirs[j, 0]), float(theirs[j, 1])) for j in unmatched]
    return (
        f"{len(ours)} pairs ({n_ess_ours} essential) vs {len(theirs)} ({n_ess_theirs} essential); "
        f"only ours: {extra[:8]}{' ...' if len(extra) > 8 else ''}; "
        f"only theirs: {missing[:8]}{' ...' if len(missing) > 8 else ''}"
    )


def assert_same_diagrams(
    ours: list[Diagram], theirs: list[Diagram], maxdim: int, who: str, case: object
) -> None:
    problems = []
    for dim in range(maxdim + 1):
        ours_dim = ours[dim] if dim < len(ours) else np.empty((0, 2))
        theirs_dim = theirs[dim] if dim < len(theirs) else np.empty((0, 2))
        diff = diagram_difference(ours_dim, theirs_dim)
        if diff is not None:
            problems.append(f"  dim {dim}: {diff}")
    assert not problems, f"{case}: engine vs {who}\n" + "\n".join(problems)


# --------------------------------------------------------------------------------------------
# Random cases


@dataclass(frozen=True)
class Case:
    seed: int
    kind: str  # points | matrix | ties | sparse
    shape: str  # how the points or values are drawn
    n: int
    d: int
    maxdim: int
    coeff: int
    with_threshold: bool
    triangle: str  # sparse only: which part of the matrix the engine gets (lower|upper|both)

    def __str__(self) -> str:
        t = "thr" if self.with_threshold else "full"
        extra = f"-{self.triangle}" if self.kind == "sparse" else ""
        return (
            f"s{self.seed}-{self.kind}-{self.shape}-n{self.n}-d{self.d}-dim{self.maxdim}"
            f"-p{self.coeff}-{t}{extra}"
        )


def draw_case(seed: int) -> Case:
    rng = np.random.default_rng([20240, seed])
    kind = str(rng.choice(["points", "matrix", "ties", "sparse"], p=[0.35, 0.25, 0.15, 0.25]))
    maxdim = int(rng.choice([0, 1, 2, 3], p=[0.15, 0.4, 0.3, 0.15]))
    # Sizes keep the whole suite within a few minutes: GUDHI builds the full complex up to
    # dimension maxdim + 1. One in five is larger (n up to 150 in dimensions 0 and 1).
    large = rng.random() < 0.2
    if maxdim == 0:
        n = int(rng.integers(60, 151) if large else rng.integers(4, 60))
    elif maxdim == 1:
        n = int(rng.integers(100, 151) if large else rng.integers(4, 80))
    elif maxdim == 2:
        n = int(rng.integers(40, 81) if large else rng.integers(4, 36))
    else:
        n = int(rng.integers(20, 36) if large else rng.integers(4, 19))
    if kind == "points":
        shape = str(rng.choice(["cube", "gauss", "sphere", "clusters", "duplicates", "grid"]))
    elif kind == "matrix":
        shape = str(rng.choice(["metric", "uniform"]))
    elif kind == "ties":
        shape = f"int{int(rng.choice([3, 5, 10, 40]))}"
    else:
        shape = str(rng.choice(["metric", "uniform", "int10"]))
    return Case(
        seed=seed,
        kind=kind,
        shape=shape,
        n=n,
        d=int(rng.integers(2, 7)),
        maxdim=maxdim,
        coeff=int(rng.choice(PRIMES)),
        with_threshold=bool(rng.random() < 0.5),
        triangle=str(rng.choice(["lower", "upper", "both"])),
    )


def draw_points(rng: np.random.Generator, shape: str, n: int, d: int) -> NDArray[np.float64]:
    if shape == "cube":
        return rng.random((n, d))
    if shape == "gauss":
        return rng.standard_normal((n, d))
    if shape == "sphere":
        x = rng.standard_normal((n, d))
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        return x + 0.05 * rng.standard_normal((n, d))
    if shape == "clusters":
        centres = 4.0 * rng.random((3, d))
        return centres[rng.integers(0, 3, n)] + 0.3 * rng.standard_normal((n, d))
    if shape == "duplicates":
        x = rng.random((n, d))
        dup = rng.random(n) < 0.25
        x[dup] = x[rng.integers(0, n, int(dup.sum()))]
        return x
    # grid: many tied distances
    return rng.integers(0, 4, (n, d)).astype(np.float64)


def to_float32_values(m: NDArray[np.float64]) -> NDArray[np.float64]:
    return m.astype(np.float32).astype(np.float64)


def draw_matrix(rng: np.random.Generator, shape: str, n: int) -> NDArray[np.float64]:
    """Symmetric, zero diagonal, float32-representable off-diagonal values > 0."""
    if shape == "metric":
        pts = rng.random((n, int(rng.integers(2, 7))))
        m = cdist(pts, pts)
        np.fill_diagonal(m, 0.0)
        m = to_float32_values(m)
        # A pair of points may coincide after rounding; keep distinct points at distance > 0.
        m[(m == 0) & ~np.eye(n, dtype=bool)] = 1e-3
        return m
    if shape == "uniform":
        upper = rng.uniform(0.1, 1.0, (n, n))
    else:  # intK: values 1..K, many ties
        upper = rng.integers(1, int(shape[3:]) + 1, (n, n)).astype(np.float64)
    m = np.triu(upper, 1)
    m = m + m.T
    return to_float32_values(m)


def pick_threshold(rng: np.random.Generator, values: NDArray[np.float64], *, in_gap: bool) -> float:
    """A threshold near a random quantile of the finite distances.

    in_gap: strictly between two distances with a clear gap, so that no edge changes sides when
    the peers round to float32 or compute distances with another summation order. Otherwise an
    existing value (exercises "diameter <= threshold" with exact inputs).
    """
    u = np.unique(values[np.isfinite(values) & (values > 0)])
    if len(u) < 2:
        return float(u[0]) if len(u) else 1.0
    k = int(rng.integers(int(0.2 * (len(u) - 1)), max(int(0.8 * (len(u) - 1)), 1)))
    if not in_gap:
        return float(u[k])
    for j in [*range(k, len(u) - 1), *range(k - 1, -1, -1)]:
        lo, hi = u[j], u[j + 1]
        if hi - lo > 1e-4 * hi:
            return float(np.float32((lo + hi) / 2))
    return float(np.float32(u[-1] * 1.5))


def enclosing_radius(m: NDArray[np.float64]) -> float:
    return float(np.min(np.max(m, axis=1)))


# --------------------------------------------------------------------------------------------
# Peers


def peer_ripser_py(
    m: NDArray[np.float64] | scipy.sparse.coo_matrix,
    maxdim: int,
    threshold: float | None,
    coeff: int,
) -> list[Diagram]:
    thresh = np.inf if threshold is None else threshold
    res = ripser.ripser(m, maxdim=maxdim, thresh=thresh, coeff=coeff, distance_matrix=True)
    return [normalise(dgm) for dgm in res["dgms"]]


def peer_giotto(
    m: NDArray[np.float64] | scipy.sparse.coo_matrix,
    maxdim: int,
    threshold: float | None,
    coeff: int,
) -> list[Diagram]:
    thresh = np.inf if threshold is None else threshold
    res = ripser_parallel(m, maxdim=maxdim, thresh=thresh, coeff=coeff, metric="precomputed")
    return [normalise(dgm) for dgm in res["dgms"]]


def gudhi_diagrams(st: gudhi.SimplexTree, maxdim: int, coeff: int) -> list[Diagram]:
    st.expansion(maxdim + 1)
    # persistence_dim_max: a complex of lower dimension than maxdim + 1 (say a graph) must still
    # report its top-dimensional classes.
    st.compute_persistence(homology_coeff_field=coeff, persistence_dim_max=True)
    return [normalise(st.persistence_intervals_in_dimension(k)) for k in range(maxdim + 1)]


def peer_gudhi_matrix(
    m: NDArray[np.float64], maxdim: int, threshold: float | None, coeff: int
) -> list[Diagram]:
    # Without a threshold, stop at the enclosing radius: beyond it every Rips complex is a cone,
    # so the diagrams do not change, and GUDHI builds far fewer simplices.
    limit = enclosing_radius(m) if threshold is None else threshold
    st = gudhi.SimplexTree.create_from_array(m, max_filtration=limit)
    return gudhi_diagrams(st, maxdim, coeff)


def peer_gudhi_sparse(
    coo: scipy.sparse.coo_matrix, n: int, maxdim: int, threshold: float | None, coeff: int
) -> list[Diagram]:
    keep = coo.row < coo.col
    if threshold is not None:
        keep &= coo.data <= threshold
    st = gudhi.SimplexTree()
    for v in range(n):  # isolated vertices are classes of their own
        st.insert([v], 0.0)
    st.insert_edges_from_coo_matrix(
        scipy.sparse.coo_matrix((coo.data[keep], (coo.row[keep], coo.col[keep])), shape=(n, n))
    )
    return gudhi_diagrams(st, maxdim, coeff)


def peer_gudhi_points(
    x: NDArray[np.float64], maxdim: int, threshold: float | None, coeff: int
) -> list[Diagram]:
    # A hair above the enclosing radius so that GUDHI's own rounding cannot drop the apex's
    # longest edge (anything added past the enclosing radius changes nothing).
    limit = enclosing_radius(cdist(x, x)) * (1 + 1e-9) if threshold is None else threshold
    st = gudhi.RipsComplex(points=x, max_edge_length=limit).create_simplex_tree(max_dimension=1)
    return gudhi_diagrams(st, maxdim, coeff)


# --------------------------------------------------------------------------------------------
# Running a case


def ours(data: Any, case: Case, threshold: float | None, **kwargs: Any) -> list[Diagram]:
    res = vietoris_rips(data, maxdim=case.maxdim, threshold=threshold, coeff=case.coeff, **kwargs)
    assert len(res.diagrams) == case.maxdim + 1, f"{case}: {len(res.diagrams)} diagrams"
    for dgm in res.diagrams:
        assert isinstance(dgm, np.ndarray)
        assert dgm.dtype == np.float64
        assert dgm.ndim == 2
        assert dgm.shape[1] == 2
    return list(res.diagrams)


def sparse_from(
    m: NDArray[np.float64], rng: np.random.Generator, density: float
) -> scipy.sparse.coo_matrix:
    """Symmetric COO with a random subset of the edges (missing entries mean +inf)."""
    n = len(m)
    i, j = np.triu_indices(n, 1)
    keep = rng.random(len(i)) < density
    i, j = i[keep], j[keep]
    rows = np.concatenate([i, j])
    cols = np.concatenate([j, i])
    vals = np.concatenate([m[i, j], m[i, j]])
    return scipy.sparse.coo_matrix((vals, (rows, cols)), shape=(n, n))


def triangle_of(coo: scipy.sparse.coo_matrix, triangle: str) -> scipy.sparse.coo_matrix:
    if triangle == "both":
        return coo
    keep = coo.row > coo.col if triangle == "lower" else coo.row < coo.col
    return scipy.sparse.coo_matrix(
        (coo.data[keep], (coo.row[keep], coo.col[keep])), shape=coo.shape
    )


def run_case(case: Case) -> None:
    rng = np.random.default_rng([7, case.seed])
    if case.kind == "points":
        x = draw_points(rng, case.shape, case.n, case.d)
        m64 = cdist(x, x)
        threshold = pick_threshold(rng, m64, in_gap=True) if case.with_threshold else None
        m32 = to_float32_values(m64)
        got = ours(x, case, threshold)
        got32 = [normalise(dgm, to_float32=True) for dgm in got]
        got64 = [normalise(dgm) for dgm in got]
        assert_same_diagrams(
            got64,
            peer_gudhi_points(x, case.maxdim, threshold, case.coeff),
            case.maxdim,
            "gudhi",
            case,
        )
        for who, peer in (("ripser.py", peer_ripser_py), ("giotto-ph", peer_giotto)):
            assert_same_diagrams(
                got32, peer(m32, case.maxdim, threshold, case.coeff), case.maxdim, who, case
            )
        return

    m = draw_matrix(rng, case.shape, case.n)
    if case.kind == "sparse":
        coo = sparse_from(m, rng, density=float(rng.uniform(0.3, 0.9)))
        threshold = pick_threshold(rng, coo.data, in_gap=False) if case.with_threshold else None
        got = [
            normalise(dgm)
            for dgm in ours(triangle_of(coo, case.triangle), case, threshold, distance_matrix=True)
        ]
        peers = {
            "gudhi": peer_gudhi_sparse(coo, case.n, case.maxdim, threshold, case.coeff),
            "ripser.py": peer_ripser_py(coo, case.maxdim, threshold, case.coeff),
            "giotto-ph": peer_giotto(coo, case.maxdim, threshold, case.coeff),
        }
    else:
        threshold = pick_threshold(rng, m, in_gap=False) if case.with_threshold else None
        got = [normalise(dgm) for dgm in ours(m, case, threshold, distance_matrix=True)]
        peers = {
            "gudhi": peer_gudhi_matrix(m, case.maxdim, threshold, case.coeff),
            "ripser.py": peer_ripser_py(m, case.maxdim, threshold, case.coeff),
            "giotto-ph": peer_giotto(m, case.maxdim, threshold, case.coeff),
        }
    for who, theirs in peers.items():
        assert_same_diagrams(got, theirs, case.maxdim, who, case)


CASES = [draw_case(seed) for seed in range(N_CASES)]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_matches_peers(case: Case) -> None:
    run_case(case)


# --------------------------------------------------------------------------------------------
# Metrics, threads, representatives, known shapes


@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "chebyshev", "cosine"])
@pytest.mark.parametrize("seed", range(5))
def test_metric_matches_scipy_matrix(metric: str, seed: int) -> None:
    rng = np.random.default_rng([11, seed])
    n, d = int(rng.integers(10, 40)), int(rng.integers(2, 7))
    x = rng.standard_normal((n, d))
    m = cdist(x, x, metric=scipy_name(metric))
    np.fill_diagonal(m, 0.0)
    case = f"metric={metric} seed={seed} n={n} d={d}"
    threshold = None if seed % 2 else pick_threshold(rng, m, in_gap=True)
    from_points = vietoris_rips(x, maxdim=2, metric=metric, threshold=threshold).diagrams
    from_matrix = vietoris_rips(m, maxdim=2, distance_matrix=True, threshold=threshold).diagrams
    got = [normalise(dgm) for dgm in from_points]
    assert_same_diagrams(got, [normalise(dgm) for dgm in from_matrix], 2, "itself on cdist", case)
    assert_same_diagrams(got, peer_gudhi_matrix(m, 2, threshold, 2), 2, "gudhi on cdist", case)


def scipy_name(metric: str) -> str:
    return {"manhattan": "cityblock"}.get(metric, metric)


def exact_multiset(dgm: Diagram) -> list[tuple[float, float]]:
    return sorted(map(tuple, np.asarray(dgm).tolist()))


@pytest.mark.parametrize("seed", range(12))
def test_threads_give_identical_results(seed: int) -> None:
    rng = np.random.default_rng([13, seed])
    maxdim = int(rng.integers(1, 4))
    n = {1: 120, 2: 45, 3: 22}[maxdim]
    x = draw_points(rng, str(rng.choice(["cube", "sphere", "grid"])), n, int(rng.integers(2, 7)))
    threshold = None if seed % 3 else pick_threshold(rng, cdist(x, x), in_gap=True)
    coeff = PRIMES[seed % 4]
    one = vietoris_rips(
        x, maxdim=maxdim, threshold=threshold, coeff=coeff, n_threads=1, representatives=True
    )
    two = vietoris_rips(
        x, maxdim=maxdim, threshold=threshold, coeff=coeff, n_threads=2, representatives=True
    )
    for dim in range(maxdim + 1):
        assert exact_multiset(one.diagrams[dim]) == exact_multiset(two.diagrams[dim]), (
            f"seed {seed} dim {dim}: n_threads 1 and 2 differ"
        )
        with_reps = [
            sorted(
                (tuple(pair), tuple(map(int, b)), tuple(map(int, dth)))
                for pair, b, dth in zip(
                    res.diagrams[dim].tolist(),
                    res.birth_simplices[dim],
                    res.death_simplices[dim],
                    strict=True,
                )
            )
            for res in (one, two)
        ]
        assert with_reps[0] == with_reps[1], f"seed {seed} dim {dim}: representatives differ"


@pytest.mark.parametrize("coeff", [46337, 65537, 2**31 - 1])
def test_large_primes(coeff: int) -> None:
    # GUDHI's largest field is Z/46337; the data have no torsion (checked with small primes
    # by the random cases), so every large prime gives the same diagrams.
    rng = np.random.default_rng([19, coeff])
    m = draw_matrix(rng, "int5", 12)
    got = [
        normalise(d) for d in vietoris_rips(m, maxdim=2, coeff=coeff, distance_matrix=True).diagrams
    ]
    assert_same_diagrams(got, peer_gudhi_matrix(m, 2, None, 46337), 2, "gudhi", f"p={coeff}")


def test_concurrent_calls_match_sequential_ones() -> None:
    # The service runs several computations at once from Python threads (the GIL is released).
    rng = np.random.default_rng(23)
    inputs = [rng.standard_normal((int(rng.integers(40, 90)), 3)) for _ in range(8)]
    sequential = [vietoris_rips(x, maxdim=2, coeff=3).diagrams for x in inputs]
    concurrent: list[Any] = [None] * len(inputs)

    def work(i: int) -> None:
        concurrent[i] = vietoris_rips(inputs[i], maxdim=2, coeff=3, n_threads=2).diagrams

    workers = [threading.Thread(target=work, args=(i,)) for i in range(len(inputs))]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    for i, (one, other) in enumerate(zip(sequential, concurrent, strict=True)):
        for dim in range(3):
            assert exact_multiset(one[dim]) == exact_multiset(other[dim]), f"input {i} dim {dim}"


def diameter(m: NDArray[np.float64], simplex: NDArray[np.int64]) -> float:
    idx = np.asarray(simplex, dtype=np.int64)
    return float(m[np.ix_(idx, idx)].max()) if len(idx) > 1 else 0.0


@pytest.mark.parametrize("seed", range(8))
def test_representatives_have_the_pair_values(seed: int) -> None:
    rng = np.random.default_rng([17, seed])
    maxdim = int(rng.integers(0, 3))
    m = draw_matrix(rng, str(rng.choice(["metric", "uniform", "int10"])), 25)
    threshold = None if seed % 2 else pick_threshold(rng, m, in_gap=False)
    res = vietoris_rips(
        m, maxdim=maxdim, distance_matrix=True, threshold=threshold, representatives=True
    )
    for dim in range(maxdim + 1):
        dgm = res.diagrams[dim]
        assert len(res.birth_simplices[dim]) == len(dgm)
        assert len(res.death_simplices[dim]) == len(dgm)
        for (birth, death), b, dth in zip(
            dgm, res.birth_simplices[dim], res.death_simplices[dim], strict=True
        ):
            assert np.asarray(b).dtype == np.int64
            assert len(b) == dim + 1, f"seed {seed} dim {dim}: birth simplex {b}"
            assert diameter(m, b) == birth, f"seed {seed}: birth simplex {b} for {birth}"
            if np.isfinite(death):
                assert len(dth) == dim + 2, f"seed {seed} dim {dim}: death simplex {dth}"
                assert diameter(m, dth) == death, f"seed {seed}: death simplex {dth} for {death}"


def circle(n: int, rng: np.random.Generator) -> NDArray[np.float64]:
    t = np.sort(rng.uniform(0, 2 * np.pi, n))
    return np.column_stack([np.cos(t), np.sin(t)])


def test_circle_betti_and_one_long_bar() -> None:
    x = circle(60, np.random.default_rng(1))
    res = vietoris_rips(x, maxdim=1, threshold=1.0)
    assert list(res.betti()) == [1, 1]
    finite_h1 = res.diagrams[1]
    assert (finite_h1[:, 1] - finite_h1[:, 0]).max() > 0.5 or np.isinf(finite_h1[:, 1]).any()
