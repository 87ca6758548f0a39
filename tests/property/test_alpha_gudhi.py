"""Alpha-complex diagrams of the engine against GUDHI's AlphaComplex on seeded inputs.

GUDHI computes alpha values with exact constructions (precision="safe"); the engine in floating
point where that is accurate to ~1e-12 and in exact rationals elsewhere. Both round, so values
that are equal in exact arithmetic may differ in the last bits and create pairs of persistence
~1e-16 on either side (points rounded onto a circle, for instance). Pairs whose persistence is
below RTOL relative are therefore dropped on both sides (they are that close to the diagonal),
and the rest must agree within RTOL relative.

Inputs: uniform and clustered samples, spheres, integer lattices and small-integer point sets
(many co-spherical ties, where the Delaunay triangulation is not unique), duplicates, points on
a lower-dimensional flat and fewer than d + 1 points, in 2D, 3D and 4D, over several primes.
"""

from __future__ import annotations

import itertools
from typing import Any

import gudhi
import numpy as np
import pytest
from numpy.typing import NDArray

from tda_backend.core.alpha import alpha_complex, estimate_alpha

pytestmark = pytest.mark.property

RTOL = 1e-9
Points = NDArray[np.float64]


def normalise(diagram: Any) -> NDArray[np.float64]:
    """(k, 2) array without pairs within RTOL of the diagonal, sorted by birth then death."""
    arr = np.asarray(diagram, dtype=np.float64).reshape(-1, 2)
    finite = np.isfinite(arr[:, 1])
    length = np.where(finite, arr[:, 1] - arr[:, 0], np.inf)
    scale = np.maximum(np.abs(arr[:, 0]), np.where(finite, np.abs(arr[:, 1]), 0.0))
    arr = arr[length > RTOL * scale]
    return arr[np.lexsort((arr[:, 1], arr[:, 0]))]


def assert_same_diagram(ours: Any, theirs: Any, context: str) -> None:
    a, b = normalise(ours), normalise(theirs)
    assert len(a) == len(b), f"{context}: {len(a)} pairs against GUDHI's {len(b)}"
    if len(a) == 0:
        return
    np.testing.assert_allclose(a[:, 0], b[:, 0], rtol=RTOL, atol=0, err_msg=context)
    # Births equal up to rounding may be ordered differently: compare the deaths of each run of
    # (nearly) equal births as sets.
    start = 0
    for i in range(1, len(a) + 1):
        if i == len(a) or not np.isclose(a[i, 0], a[i - 1, 0], rtol=RTOL, atol=0):
            da, db = np.sort(a[start:i, 1]), np.sort(b[start:i, 1])
            np.testing.assert_allclose(da, db, rtol=RTOL, atol=0, err_msg=context)
            start = i


def gudhi_diagrams(points: Points, coeff: int) -> list[NDArray[np.float64]]:
    tree = gudhi.AlphaComplex(points=points).create_simplex_tree()
    tree.compute_persistence(homology_coeff_field=coeff, min_persistence=0)
    dim = points.shape[1]
    return [tree.persistence_intervals_in_dimension(k) for k in range(dim)]


def check(points: Points, context: str, coeff: int = 2) -> None:
    ours = alpha_complex(points, coeff=coeff)
    theirs = gudhi_diagrams(points, coeff)
    assert len(ours.diagrams) == points.shape[1]
    for k, diagram in enumerate(ours.diagrams):
        assert_same_diagram(diagram, theirs[k], f"{context}, H{k}, Z/{coeff}")


# --------------------------------------------------------------------------------------------
# Inputs


def uniform(rng: np.random.Generator, n: int, d: int) -> Points:
    return rng.random((n, d))


def clusters(rng: np.random.Generator, n: int, d: int) -> Points:
    centres = rng.random((4, d)) * 10
    return centres[rng.integers(0, 4, n)] + rng.normal(scale=0.5, size=(n, d))


def sphere(rng: np.random.Generator, n: int, d: int) -> Points:
    x = rng.normal(size=(n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True) + rng.normal(scale=0.02, size=(n, d))


def small_integers(rng: np.random.Generator, n: int, d: int) -> Points:
    """Points of a coarse integer grid: duplicates and co-spherical ties everywhere."""
    return rng.integers(0, 5, size=(n, d)).astype(np.float64)


def lattice(side: int, d: int) -> Points:
    return np.array(list(itertools.product(range(side), repeat=d)), dtype=np.float64)


def with_duplicates(rng: np.random.Generator, points: Points) -> Points:
    repeats = points[rng.integers(0, len(points), len(points) // 3)]
    return rng.permutation(np.vstack([points, repeats]))


def on_flat(rng: np.random.Generator, n: int, k: int, d: int) -> Points:
    """n points of a random k-dimensional affine subspace of R^d (rounded onto it)."""
    basis = np.linalg.qr(rng.normal(size=(d, k)))[0].T
    return rng.random((n, k)) @ basis + rng.random(d)


GENERATORS = {"uniform": uniform, "clusters": clusters, "sphere": sphere}
SIZES = {1: 50, 2: 300, 3: 250, 4: 90}


# --------------------------------------------------------------------------------------------
# Diagrams


@pytest.mark.parametrize("dim", [1, 2, 3, 4])
@pytest.mark.parametrize("kind", sorted(GENERATORS))
@pytest.mark.parametrize("seed", range(8))
def test_random_samples_match_gudhi(dim: int, kind: str, seed: int) -> None:
    rng = np.random.default_rng(1000 * dim + seed)
    points = GENERATORS[kind](rng, SIZES[dim], dim)
    check(points, f"{kind} {dim}D seed {seed}", coeff=(2, 3, 5, 7)[seed % 4])


@pytest.mark.parametrize("dim", [2, 3, 4])
@pytest.mark.parametrize("seed", range(3))
def test_nearly_degenerate_lattices_match_gudhi(dim: int, seed: int) -> None:
    """A lattice moved by 1e-12: near-ties that floating point alone would misjudge."""
    rng = np.random.default_rng(7000 * dim + seed)
    side = {2: 6, 3: 4, 4: 3}[dim]
    check(lattice(side, dim) + rng.normal(scale=1e-12, size=(side**dim, dim)), f"jitter {dim}D")


@pytest.mark.parametrize("dim", [2, 3, 4])
@pytest.mark.parametrize("seed", range(8))
def test_small_integer_points_with_ties_and_duplicates_match_gudhi(dim: int, seed: int) -> None:
    rng = np.random.default_rng(2000 * dim + seed)
    points = small_integers(rng, {2: 40, 3: 80, 4: 60}[dim], dim)
    check(points, f"small integers {dim}D seed {seed}", coeff=(2, 3)[seed % 2])


@pytest.mark.parametrize(("side", "dim"), [(6, 2), (4, 3), (3, 4)])
def test_lattices_match_gudhi(side: int, dim: int) -> None:
    check(lattice(side, dim), f"lattice {side}^{dim}")
    check(lattice(side, dim) * 0.1 + 3.0, f"scaled shifted lattice {side}^{dim}", coeff=3)


@pytest.mark.parametrize("dim", [2, 3, 4])
def test_duplicates_match_gudhi(dim: int) -> None:
    rng = np.random.default_rng(3000 + dim)
    check(with_duplicates(rng, uniform(rng, 60, dim)), f"duplicates {dim}D")


@pytest.mark.parametrize(("k", "dim"), [(1, 2), (1, 3), (2, 3), (2, 4), (3, 4)])
def test_points_on_a_flat_match_gudhi(k: int, dim: int) -> None:
    rng = np.random.default_rng(4000 + 10 * k + dim)
    check(on_flat(rng, 50, k, dim), f"{k}-flat in {dim}D")
    axis_aligned = np.zeros((40, dim))
    axis_aligned[:, :k] = rng.random((40, k))
    check(axis_aligned, f"coordinate {k}-plane in {dim}D")


@pytest.mark.parametrize("dim", [2, 3, 4])
def test_fewer_points_than_dimension_plus_one(dim: int) -> None:
    rng = np.random.default_rng(5000 + dim)
    # A lone point: one essential class (GUDHI computes no dimension for a 0-dimensional tree).
    single = alpha_complex(rng.random((1, dim)))
    np.testing.assert_array_equal(single.diagrams[0], [[0.0, np.inf]])
    assert all(len(d) == 0 for d in single.diagrams[1:])
    for n in range(2, dim + 2):
        points = rng.random((n, dim))
        check(points, f"{n} points in {dim}D")


def test_radius_convention_is_the_square_root() -> None:
    points = uniform(np.random.default_rng(6), 200, 3)
    squared = alpha_complex(points)
    radius = alpha_complex(points, values="radius")
    assert squared.metadata["values"] == "squared_radius"
    assert radius.metadata["values"] == "radius"
    assert radius.metadata["complex"] == "alpha"
    for a, b in zip(squared.diagrams, radius.diagrams, strict=True):
        np.testing.assert_allclose(np.sqrt(a), b, rtol=1e-15)


def test_representatives_carry_the_pair_values_in_gudhi_filtration() -> None:
    points = uniform(np.random.default_rng(7), 150, 3)
    result = alpha_complex(points, representatives=True)
    tree = gudhi.AlphaComplex(points=points).create_simplex_tree()
    assert result.birth_simplices is not None
    assert result.death_simplices is not None
    for k, diagram in enumerate(result.diagrams):
        for (birth, death), born, dies in zip(
            diagram, result.birth_simplices[k], result.death_simplices[k], strict=True
        ):
            assert len(born) == k + 1
            assert tree.filtration(list(born)) == pytest.approx(birth, rel=RTOL, abs=0)
            if np.isinf(death):
                assert len(dies) == 0
            else:
                assert len(dies) == k + 2
                assert tree.filtration(list(dies)) == pytest.approx(death, rel=RTOL)


def test_estimate_matches_the_complex_size_on_uniform_points() -> None:
    points = uniform(np.random.default_rng(8), 5000, 3)
    estimate = estimate_alpha(points)
    actual = alpha_complex(points).metadata["simplices"]
    for expected, found in zip(estimate.simplices, actual, strict=True):
        assert 0.7 * found <= expected <= 1.5 * found
