"""Bad input, resource limits, cancellation and progress of `tda_backend.core.vietoris_rips`.

Every bad input must raise ValueError (ResourceError is a subclass) whose message names the
problem; never crash, hang or return a wrong answer. Inputs that look odd but are valid (one
point, duplicate points, maxdim >= n) must give the right diagrams.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from typing import Any

import gudhi
import numpy as np
import pytest
import scipy.sparse
from scipy.spatial.distance import cdist

from tda_backend.core import Cancelled, CancelToken, ResourceError, estimate_rips, vietoris_rips

RNG = np.random.default_rng(5)
POINTS = RNG.random((12, 3))
MATRIX = cdist(POINTS, POINTS)


def with_value(m: np.ndarray, i: int, j: int, value: float, *, symmetric: bool = True) -> Any:
    m = m.copy()
    m[i, j] = value
    if symmetric:
        m[j, i] = value
    return m


def sparse_of(m: np.ndarray) -> scipy.sparse.coo_matrix:
    i, j = np.triu_indices(len(m), 1)
    return scipy.sparse.coo_matrix((m[i, j], (i, j)), shape=m.shape)


BAD_INPUTS: list[tuple[str, Any, dict[str, Any], str]] = [
    # (id, data, keyword arguments, regex the message must match)
    ("nan-point", with_value(POINTS, 3, 1, math.nan, symmetric=False), {}, r"(?i)nan|finite"),
    ("inf-point", with_value(POINTS, 3, 1, math.inf, symmetric=False), {}, r"(?i)inf|finite"),
    (
        "nan-distance",
        with_value(MATRIX, 2, 5, math.nan),
        {"distance_matrix": True},
        r"(?i)nan|finite",
    ),
    (
        "minus-inf-distance",
        with_value(MATRIX, 2, 5, -math.inf),
        {"distance_matrix": True},
        r"(?i)negative|inf|finite",
    ),
    (
        "negative-distance",
        with_value(MATRIX, 2, 5, -0.5),
        {"distance_matrix": True},
        r"(?i)negative",
    ),
    ("non-square", MATRIX[:, :-1], {"distance_matrix": True}, r"(?i)square|shape"),
    (
        "asymmetric",
        with_value(MATRIX, 2, 5, 9.0, symmetric=False),
        {"distance_matrix": True},
        r"(?i)symmetric",
    ),
    (
        "nonzero-diagonal",
        with_value(MATRIX, 4, 4, 0.25),
        {"distance_matrix": True},
        r"(?i)diagonal",
    ),
    ("ragged-rows", [[0.0, 1.0], [1.0, 2.0, 3.0], [4.0]], {}, r"."),
    ("non-numeric", [["0.5", "x"], ["1", "2"]], {}, r"."),
    ("one-dimensional", np.arange(5.0), {}, r"(?i)dimension|shape|2-?d|\(n"),
    ("three-dimensional", np.zeros((2, 3, 4)), {}, r"(?i)dimension|shape|2-?d|\(n"),
    ("empty-points", np.empty((0, 3)), {}, r"(?i)empty|no points|at least"),
    ("empty-matrix", np.empty((0, 0)), {"distance_matrix": True}, r"(?i)empty|no points|at least"),
    ("zero-coordinates", np.empty((4, 0)), {}, r"(?i)dimension|coordinate|empty|shape"),
    ("modulus-4", POINTS, {"coeff": 4}, r"(?i)prime"),
    ("modulus-1", POINTS, {"coeff": 1}, r"(?i)prime"),
    ("modulus-0", POINTS, {"coeff": 0}, r"(?i)prime"),
    ("modulus-negative", POINTS, {"coeff": -3}, r"(?i)prime|coeff"),
    ("negative-threshold", POINTS, {"threshold": -1.0}, r"(?i)threshold"),
    ("nan-threshold", POINTS, {"threshold": math.nan}, r"(?i)threshold"),
    ("negative-maxdim", POINTS, {"maxdim": -1}, r"(?i)maxdim|dimension"),
    ("unknown-metric", POINTS, {"metric": "hamming-ish"}, r"(?i)metric"),
    (
        "sparse-negative",
        sparse_of(with_value(MATRIX, 2, 5, -0.5)),
        {"distance_matrix": True},
        r"(?i)negative",
    ),
    (
        "sparse-nan",
        sparse_of(with_value(MATRIX, 2, 5, math.nan)),
        {"distance_matrix": True},
        r"(?i)nan|finite",
    ),
    (
        "sparse-non-square",
        scipy.sparse.coo_matrix(([1.0], ([0], [1])), shape=(3, 4)),
        {"distance_matrix": True},
        r"(?i)square|shape",
    ),
    (
        "sparse-asymmetric",
        scipy.sparse.coo_matrix(([1.0, 2.0], ([0, 1], [1, 0])), shape=(3, 3)),
        {"distance_matrix": True},
        r"(?i)symmetric|disagree|both",
    ),
]


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("data", "kwargs", "message"), [pytest.param(d, k, m, id=i) for i, d, k, m in BAD_INPUTS]
)
def test_bad_input_raises_value_error(data: Any, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        vietoris_rips(data, **{"maxdim": 1, **kwargs})


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("n", "maxdim"), [(200, 60), (3000, 40), (100_000, 6)])
def test_index_overflow_is_a_resource_error(n: int, maxdim: int) -> None:
    # C(n, maxdim + 2) exceeds 64-bit simplex indices: refused before any allocation.
    x = np.arange(n, dtype=np.float64)[:, None]
    start = time.monotonic()
    with pytest.raises(ResourceError, match=r"(?i)overflow|index|too (many|large)|maxdim"):
        vietoris_rips(x, maxdim=maxdim, threshold=1.0)
    assert time.monotonic() - start < 10


def test_sparse_nonzero_diagonal_is_refused() -> None:
    # ripser.py and giotto-ph read the diagonal as vertex births; ignoring it silently would
    # give their users a different answer.
    coo = scipy.sparse.coo_matrix(([1.0, 0.5], ([0, 1], [1, 1])), shape=(3, 3))
    with pytest.raises(ValueError, match=r"(?i)diagonal"):
        vietoris_rips(coo, maxdim=1, distance_matrix=True)


def test_sparse_zero_diagonal_is_accepted() -> None:
    coo = scipy.sparse.coo_matrix(([1.0, 0.0, 2.0], ([0, 1, 1], [1, 1, 2])), shape=(3, 3))
    got = vietoris_rips(coo, maxdim=1, distance_matrix=True).diagrams
    assert engine_pairs(got) == [[(0.0, 1.0), (0.0, 2.0), (0.0, math.inf)], []]


def test_resource_error_is_a_value_error() -> None:
    assert issubclass(ResourceError, ValueError)


def test_positive_infinity_in_a_dense_matrix_is_refused_or_a_missing_edge() -> None:
    """+inf as a dense entry: either refused, or treated as a missing edge (sparse semantics)."""
    m = with_value(MATRIX, 2, 5, math.inf)
    try:
        got = vietoris_rips(m, maxdim=1, distance_matrix=True).diagrams
    except ValueError as err:
        refusal = str(err)
    else:
        refusal = None
    if refusal is not None:
        assert refusal.strip(), "empty message"
        return
    coo = sparse_of(MATRIX)
    keep = ~((coo.row == 2) & (coo.col == 5))
    coo = scipy.sparse.coo_matrix((coo.data[keep], (coo.row[keep], coo.col[keep])), shape=coo.shape)
    want = vietoris_rips(coo, maxdim=1, distance_matrix=True).diagrams
    for dim in range(2):
        assert sorted(map(tuple, got[dim].tolist())) == sorted(map(tuple, want[dim].tolist()))


# --------------------------------------------------------------------------------------------
# Odd but valid inputs


def gudhi_pairs(m: np.ndarray, maxdim: int) -> list[list[tuple[float, float]]]:
    st = gudhi.SimplexTree.create_from_array(m)
    st.expansion(maxdim + 1)
    st.compute_persistence(homology_coeff_field=2, persistence_dim_max=True)
    out = []
    for k in range(maxdim + 1):
        dgm = np.asarray(st.persistence_intervals_in_dimension(k)).reshape(-1, 2)
        out.append(sorted((float(b), float(d)) for b, d in dgm if b != d))
    return out


def engine_pairs(diagrams: list[np.ndarray]) -> list[list[tuple[float, float]]]:
    return [sorted((float(b), float(d)) for b, d in dgm if b != d) for dgm in diagrams]


def test_one_point_is_refused_clearly_or_one_essential_class() -> None:
    try:
        res = vietoris_rips(np.array([[1.0, 2.0]]), maxdim=2)
    except ValueError as err:
        refusal = str(err)
    else:
        refusal = None
    if refusal is not None:
        assert refusal.strip(), "empty message"
        return
    assert engine_pairs(res.diagrams) == [[(0.0, math.inf)], [], []]


def test_duplicate_points_are_valid() -> None:
    x = np.vstack([POINTS, POINTS[:4], POINTS[:1]])
    res = vietoris_rips(x, maxdim=2)
    assert engine_pairs(res.diagrams) == gudhi_pairs(cdist(x, x), 2)


def test_all_points_equal() -> None:
    res = vietoris_rips(np.ones((6, 3)), maxdim=2)
    assert engine_pairs(res.diagrams) == [[(0.0, math.inf)], [], []]


@pytest.mark.parametrize(("n", "maxdim"), [(2, 2), (4, 4), (5, 8)])
def test_maxdim_at_least_n_is_valid(n: int, maxdim: int) -> None:
    x = RNG.random((n, 2))
    res = vietoris_rips(x, maxdim=maxdim)
    assert len(res.diagrams) == maxdim + 1
    assert engine_pairs(res.diagrams) == gudhi_pairs(cdist(x, x), maxdim)


def test_integer_and_list_inputs_are_accepted() -> None:
    ints = np.array([[0, 0], [0, 3], [4, 0], [4, 3]])
    want = engine_pairs(vietoris_rips(ints.astype(float), maxdim=1).diagrams)
    assert engine_pairs(vietoris_rips(ints, maxdim=1).diagrams) == want
    assert engine_pairs(vietoris_rips(ints.tolist(), maxdim=1).diagrams) == want


def test_threshold_zero_gives_isolated_points() -> None:
    res = vietoris_rips(POINTS, maxdim=1, threshold=0.0)
    assert engine_pairs(res.diagrams) == [[(0.0, math.inf)] * len(POINTS), []]


# --------------------------------------------------------------------------------------------
# Estimate and memory budget


def test_estimate_is_cheap_and_grows_with_maxdim() -> None:
    x = RNG.random((300, 3))
    start = time.monotonic()
    small = estimate_rips(x, maxdim=1)
    large = estimate_rips(x, maxdim=3)
    assert time.monotonic() - start < 2
    assert small is not None
    assert large is not None
    assert repr(small) != repr(large)


def test_tiny_memory_budget_is_refused_with_advice() -> None:
    x = RNG.random((300, 3))
    with pytest.raises(ResourceError, match=r"(?i)maxdim|threshold") as info:
        vietoris_rips(x, maxdim=3, memory_budget_mb=1)
    assert isinstance(info.value, ValueError)


def test_generous_memory_budget_computes() -> None:
    x = RNG.random((40, 3))
    with_budget = vietoris_rips(x, maxdim=2, memory_budget_mb=4096)
    without = vietoris_rips(x, maxdim=2)
    assert engine_pairs(with_budget.diagrams) == engine_pairs(without.diagrams)


def test_memory_budget_must_be_positive() -> None:
    with pytest.raises(ValueError, match=r"(?i)memory|budget"):
        vietoris_rips(POINTS, maxdim=1, memory_budget_mb=-5)


# --------------------------------------------------------------------------------------------
# Cancellation and progress

# Ripser 1.2 takes about 10 s and 300 MB on this; bounded, so a cancellation that fails does not
# leave an endless computation behind.
BIG = np.random.default_rng(8).standard_normal((400, 4))
BIG_MAXDIM = 3
BIG_THRESHOLD = 2.2


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("n_threads", "delay"), [(1, 0.3), (2, 0.3), (1, 0.05), (2, 1.5)])
def test_cancel_from_another_thread_stops_within_a_second(n_threads: int, delay: float) -> None:
    token = CancelToken()
    outcome: dict[str, Any] = {}

    def compute() -> None:
        try:
            vietoris_rips(
                BIG, maxdim=BIG_MAXDIM, threshold=BIG_THRESHOLD, n_threads=n_threads, cancel=token
            )
            outcome["result"] = "finished"
        except Cancelled:
            outcome["result"] = "cancelled"
        except BaseException as err:  # reported in the assertion below
            outcome["result"] = repr(err)
        outcome["end"] = time.monotonic()

    worker = threading.Thread(target=compute)
    worker.start()
    time.sleep(delay)
    # The main thread runs while the engine computes: the GIL is released.
    assert worker.is_alive(), f"the computation finished in under {delay} s: make BIG larger"
    cancelled_at = time.monotonic()
    token.cancel()
    worker.join(timeout=30)
    assert not worker.is_alive(), "cancellation ignored for 30 s"
    assert outcome["result"] == "cancelled", outcome["result"]
    assert outcome["end"] - cancelled_at < 1.0, f"took {outcome['end'] - cancelled_at:.2f} s"


def test_cancel_before_start() -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        vietoris_rips(BIG[:100], maxdim=2, cancel=token)


def test_untouched_token_does_not_cancel() -> None:
    res = vietoris_rips(POINTS, maxdim=1, cancel=CancelToken())
    assert len(res.diagrams) == 2


@pytest.mark.timeout(120)
def test_progress_is_monotone_within_unit_interval() -> None:
    seen: list[float] = []
    x = np.random.default_rng(9).standard_normal((150, 4))
    vietoris_rips(x, maxdim=2, progress=seen.append)
    assert seen, "progress never reported"
    assert all(0.0 <= v <= 1.0 for v in seen), seen
    assert all(a <= b for a, b in itertools.pairwise(seen)), seen


@pytest.mark.timeout(120)
@pytest.mark.parametrize("n_threads", [1, 2])
def test_progress_advances_while_the_columns_of_a_dimension_are_assembled(n_threads: int) -> None:
    """The assembly of dimension 2's columns is most of this computation's time: progress moves
    through it (the first half of dimension 2's third, [2/3, 5/6)), not only at its end."""
    seen: list[float] = []
    x = np.random.default_rng(1).standard_normal((400, 4))
    vietoris_rips(x, maxdim=2, n_threads=n_threads, progress=seen.append)
    during = [v for v in seen if 2 / 3 <= v < 5 / 6]
    assert len(during) >= 3, seen
    assert all(a <= b for a, b in itertools.pairwise(seen)), seen
    assert seen[-1] == 1.0


def test_progress_callback_error_propagates() -> None:
    def broken(_: float) -> None:
        raise RuntimeError("callback failed")

    with pytest.raises(RuntimeError, match="callback failed"):
        vietoris_rips(np.random.default_rng(9).standard_normal((80, 3)), maxdim=2, progress=broken)
