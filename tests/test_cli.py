"""The `tda-ph` command: Ripser's formats, flags and text layout, JSON output, and bad input.

Outputs are compared as parsed multisets: Ripser prints 6 significant digits (and computes in
float32), so values agree within 1e-5 relative; header lines must have the same text with the
numbers equal to the same tolerance.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.distance import cdist

REPO = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("TDA_DATASETS", REPO.parent / "shared" / "datasets"))
RIPSER = shutil.which("ripser")  # Debian's Ripser 1.2.1 (no --modulus)
RTOL = 1e-5
TIMEOUT = 120


def find_tda_ph() -> str:
    candidates = [
        os.environ.get("TDA_PH", ""),
        str(Path(sys.executable).parent / "tda-ph"),
        str(REPO / "build" / "cpp" / "tda-ph"),
    ]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail(f"tda-ph not found (looked at {candidates[1:]}); build it or set TDA_PH")


@pytest.fixture(scope="module")
def tda_ph() -> str:
    return find_tda_ph()


def run(
    cmd: list[str], *, stdin: bytes | None = None, timeout: float = TIMEOUT
) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout, check=False)
    assert proc.returncode >= 0, f"{cmd} killed by signal {-proc.returncode}: {proc.stderr!r}"
    assert proc.returncode < 128, f"{cmd} exited {proc.returncode}: {proc.stderr!r}"
    return proc


def run_ok(cmd: list[str], *, stdin: bytes | None = None) -> str:
    proc = run(cmd, stdin=stdin)
    assert proc.returncode == 0, f"{cmd} exited {proc.returncode}: {proc.stderr.decode()}"
    return proc.stdout.decode()


# --------------------------------------------------------------------------------------------
# Ripser's text layout


@dataclass
class RipserOutput:
    headers: list[str]
    diagrams: dict[int, list[tuple[float, float]]]


INTERVAL = re.compile(r" \[([^,\]]+),([^)]*)\)")
DIM_LINE = re.compile(r"persistence intervals in dim (\d+):")
NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*(?:e[-+]?\d+)?|inf)")


def parse_ripser(text: str) -> RipserOutput:
    out = RipserOutput(headers=[], diagrams={})
    dim: int | None = None
    for line in text.splitlines():
        if m := DIM_LINE.fullmatch(line):
            dim = int(m[1])
            out.diagrams[dim] = []
        elif (m := INTERVAL.fullmatch(line)) and dim is not None:
            death = math.inf if not m[2].strip() else float(m[2])
            out.diagrams[dim].append((float(m[1]), death))
        elif dim is None:
            out.headers.append(line)
        else:
            raise AssertionError(f"unexpected line after the intervals: {line!r}")
    return out


def close(a: float, b: float, rtol: float = RTOL) -> bool:
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= rtol * max(abs(a), abs(b)) * (1 + 1e-9)


def multiset_difference(
    ours: list[tuple[float, float]], theirs: list[tuple[float, float]], rtol: float = RTOL
) -> str | None:
    a, b = sorted(ours), sorted(theirs)
    if len(a) == len(b) and all(
        close(x[0], y[0], rtol) and close(x[1], y[1], rtol) for x, y in zip(a, b, strict=True)
    ):
        return None
    unmatched = list(b)
    extra = []
    for x in a:
        hit = next(
            (
                i
                for i, y in enumerate(unmatched)
                if close(x[0], y[0], rtol) and close(x[1], y[1], rtol)
            ),
            None,
        )
        if hit is None:
            extra.append(x)
        else:
            unmatched.pop(hit)
    if not extra and not unmatched:
        return None
    return f"{len(a)} vs {len(b)} pairs; only ours: {extra[:10]}; only theirs: {unmatched[:10]}"


def header_difference(ours: list[str], theirs: list[str]) -> str | None:
    if len(ours) != len(theirs):
        return f"header lines {ours} vs {theirs}"
    for x, y in zip(ours, theirs, strict=True):
        if NUMBER.sub("#", x) != NUMBER.sub("#", y):
            return f"header {x!r} vs {y!r}"
        for u, v in zip(NUMBER.findall(x), NUMBER.findall(y), strict=True):
            if not close(float(u), float(v)):
                return f"header {x!r} vs {y!r}"
    return None


def assert_same_output(
    ours: str, theirs: str, *, what: str, headers: bool = True, rtol: float = RTOL
) -> None:
    a, b = parse_ripser(ours), parse_ripser(theirs)
    problems = []
    if headers and (diff := header_difference(a.headers, b.headers)):
        problems.append(diff)
    if sorted(a.diagrams) != sorted(b.diagrams):
        problems.append(f"dimensions {sorted(a.diagrams)} vs {sorted(b.diagrams)}")
    for dim in sorted(set(a.diagrams) & set(b.diagrams)):
        if diff := multiset_difference(a.diagrams[dim], b.diagrams[dim], rtol):
            problems.append(f"dim {dim}: {diff}")
    assert not problems, f"{what}:\n  " + "\n  ".join(problems)


# --------------------------------------------------------------------------------------------
# The shared datasets reproduce Ripser's outputs


@dataclass(frozen=True)
class DatasetRun:
    reference: str  # the *.ripser.txt beside the data
    data: str
    args: tuple[str, ...]


DATASET_RUNS = [
    DatasetRun(
        "sphere_3_192.dim2.ripser.txt",
        "sphere_3_192.lower_distance_matrix",
        ("--format", "lower-distance", "--dim", "2"),
    ),
    DatasetRun(
        "projective_plane.dim2.p2.ripser.txt",
        "projective_plane.lower_distance_matrix",
        ("--format", "lower-distance", "--dim", "2", "--modulus", "2"),
    ),
    DatasetRun(
        "projective_plane.dim2.p3.ripser.txt",
        "projective_plane.lower_distance_matrix",
        ("--format", "lower-distance", "--dim", "2", "--modulus", "3"),
    ),
    DatasetRun(
        "o3_1024.dim3.t1.8.ripser.txt",
        "o3_1024.txt",
        ("--format", "point-cloud", "--dim", "3", "--threshold", "1.8"),
    ),
]
# random16.dim7.ripser.txt was made by Ripser without --format, and Ripser's real default is the
# full `distance` format, which reads only the first i entries of line i: on this lower-triangular
# file it drops the last value and sees 15 points. Read as what it is (`lower-distance`, 16
# points), it is compared with Debian's /usr/bin/ripser on the same flags instead.
RIPSER_RUNS = [("random16.lower_distance_matrix", ("--format", "lower-distance", "--dim", "7"))]
# o3_4096 (--dim 3 --threshold 1.4) takes Ripser about 40 s: it is exercised by bench/ only.
BENCHMARK_ONLY = {"o3_4096.txt"}


# Both come with the set-up (../shared/datasets beside the clone; scripts/bootstrap.sh installs
# Debian's ripser): when one is missing, the tests that need it fail and say what is missing.


@pytest.fixture
def _datasets_present() -> None:
    assert DATASETS.is_dir(), f"no datasets at {DATASETS} (set TDA_DATASETS)"


@pytest.fixture
def _ripser_present() -> None:
    assert RIPSER is not None, "Debian's ripser is not installed (scripts/bootstrap.sh installs it)"


needs_datasets = pytest.mark.usefixtures("_datasets_present")
needs_ripser = pytest.mark.usefixtures("_ripser_present")


@needs_datasets
def test_every_dataset_is_covered() -> None:
    covered = {r.data for r in DATASET_RUNS} | {d for d, _ in RIPSER_RUNS} | BENCHMARK_ONLY
    data_files = {
        p.name
        for p in DATASETS.iterdir()
        if p.is_file() and not p.name.endswith(".ripser.txt") and p.suffix != ".md"
    }
    assert data_files <= covered, f"datasets without a test: {sorted(data_files - covered)}"
    references = {p.name for p in DATASETS.glob("*.ripser.txt")}
    assert references <= {r.reference for r in DATASET_RUNS} | {"random16.dim7.ripser.txt"}


@needs_datasets
@pytest.mark.parametrize("case", DATASET_RUNS, ids=lambda r: r.reference)
def test_dataset_reproduces_ripser_reference(tda_ph: str, case: DatasetRun) -> None:
    ours = run_ok([tda_ph, *case.args, str(DATASETS / case.data)])
    reference = (DATASETS / case.reference).read_text()
    assert_same_output(ours, reference, what=f"tda-ph {' '.join(case.args)} {case.data}")


@needs_datasets
@needs_ripser
@pytest.mark.parametrize(("data", "args"), RIPSER_RUNS, ids=[d for d, _ in RIPSER_RUNS])
def test_dataset_matches_debian_ripser(tda_ph: str, data: str, args: tuple[str, ...]) -> None:
    path = str(DATASETS / data)
    assert_same_output(
        run_ok([tda_ph, *args, path]),
        run_ok([str(RIPSER), *args, path]),
        what=f"tda-ph vs ripser {' '.join(args)} {data}",
    )


@needs_datasets
def test_projective_plane_homology_depends_on_the_field(tda_ph: str) -> None:
    path = str(DATASETS / "projective_plane.lower_distance_matrix")
    mod2 = parse_ripser(run_ok([tda_ph, "--dim", "2", "--modulus", "2", path])).diagrams
    mod3 = parse_ripser(run_ok([tda_ph, "--dim", "2", "--modulus", "3", path])).diagrams
    assert len(mod2[1]) == len(mod2[2]) == 1
    assert mod3[1] == mod3[2] == []


# --------------------------------------------------------------------------------------------
# One small matrix in every format


def small_matrix() -> np.ndarray:
    # Multiples of 1/8: exact in decimal text, in float32 (the binary format) and in double.
    rng = np.random.default_rng(4)
    n = 9
    m = np.triu(rng.integers(1, 40, (n, n)) / 8.0, 1)
    return m + m.T


def write_lower(m: np.ndarray) -> bytes:
    return "".join(
        ",".join(f"{m[i, j]:g}" for j in range(i)) + "\n" for i in range(1, len(m))
    ).encode()


def write_upper(m: np.ndarray) -> bytes:
    n = len(m)
    return "".join(
        " ".join(f"{m[i, j]:g}" for j in range(i + 1, n)) + "\n" for i in range(n - 1)
    ).encode()


def write_full(m: np.ndarray) -> bytes:
    return "".join(",".join(f"{v:g}" for v in row) + "\n" for row in m).encode()


def write_sparse(m: np.ndarray, keep: np.ndarray | None = None) -> bytes:
    n = len(m)
    lines = [
        f"{i} {j} {m[i, j]:g}\n" for i in range(n) for j in range(i) if keep is None or keep[i, j]
    ]
    return "".join(lines).encode()


def write_dipha(m: np.ndarray) -> bytes:
    # DIPHA distance matrix: int64 magic 8067171840, int64 type 7, int64 n, then n*n doubles.
    n = len(m)
    return struct.pack("<qqq", 8067171840, 7, n) + struct.pack(f"<{n * n}d", *m.ravel())


def write_binary(m: np.ndarray) -> bytes:
    # Ripser's binary format: the lower triangle, row by row, as native (little-endian) float32.
    values = [m[i, j] for i in range(1, len(m)) for j in range(i)]
    return struct.pack(f"<{len(values)}f", *values)


FORMATS = {
    "lower-distance": write_lower,
    "upper-distance": write_upper,
    "distance": write_full,
    "sparse": write_sparse,
    "dipha": write_dipha,
    "binary": write_binary,
}


@pytest.fixture(scope="module")
def lower_output(tda_ph: str) -> str:
    return run_ok(
        [tda_ph, "--format", "lower-distance", "--dim", "2"], stdin=write_lower(small_matrix())
    )


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_format_gives_the_same_intervals(
    tda_ph: str, tmp_path: Path, fmt: str, lower_output: str
) -> None:
    path = tmp_path / f"m.{fmt}"
    path.write_bytes(FORMATS[fmt](small_matrix()))
    ours = run_ok([tda_ph, "--format", fmt, "--dim", "2", str(path)])
    # The sparse format announces itself with another header line.
    assert_same_output(ours, lower_output, what=f"--format {fmt}", headers=fmt != "sparse")


# Ripser's binary reader pushes one extra value when it reaches the end of the file (it tests
# eof before reading), so a well-formed file makes it fail an assertion: no comparison there.
@needs_ripser
@pytest.mark.parametrize("fmt", sorted(set(FORMATS) - {"binary"}))
def test_format_matches_debian_ripser(tda_ph: str, tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"m.{fmt}"
    path.write_bytes(FORMATS[fmt](small_matrix()))
    args = ["--format", fmt, "--dim", "2", str(path)]
    assert_same_output(
        run_ok([tda_ph, *args]), run_ok([str(RIPSER), *args]), what=f"--format {fmt}"
    )


def noisy_circle(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, 2 * np.pi, n)
    return np.column_stack(
        [np.cos(t), np.sin(t), 0.3 * np.cos(3 * t)]
    ) + 0.05 * rng.standard_normal((n, 3))


def write_points(x: np.ndarray, sep: str = " ") -> bytes:
    return "".join(sep.join(repr(float(v)) for v in row) + "\n" for row in x).encode()


def test_point_cloud_equals_its_distance_matrix(tda_ph: str) -> None:
    x = noisy_circle(40, 1)
    m = cdist(x, x)
    lower = "".join(
        ",".join(repr(float(m[i, j])) for j in range(i)) + "\n" for i in range(1, len(m))
    )
    from_points = run_ok([tda_ph, "--format", "point-cloud", "--dim", "2"], stdin=write_points(x))
    from_matrix = run_ok([tda_ph, "--format", "lower-distance", "--dim", "2"], stdin=lower.encode())
    # The point cloud adds its own header line before Ripser's matrix header.
    assert from_points.splitlines()[0] == "point cloud with 40 points in dimension 3"
    assert_same_output(
        from_points, from_matrix, what="point cloud vs matrix", headers=False, rtol=1e-9
    )


@needs_ripser
@pytest.mark.parametrize("sep", [" ", ",", "\t"])
def test_point_cloud_matches_debian_ripser(tda_ph: str, tmp_path: Path, sep: str) -> None:
    path = tmp_path / "circle.txt"
    path.write_bytes(write_points(noisy_circle(60, 2), sep))
    for extra in ([], ["--threshold", "0.9"]):
        args = ["--format", "point-cloud", "--dim", "2", *extra, str(path)]
        assert_same_output(
            run_ok([tda_ph, *args]), run_ok([str(RIPSER), *args]), what=" ".join(args)
        )


@needs_ripser
def test_sparse_with_missing_entries_matches_debian_ripser(tda_ph: str, tmp_path: Path) -> None:
    m = small_matrix()
    rng = np.random.default_rng(6)
    keep = rng.random(m.shape) < 0.6
    path = tmp_path / "m.sparse"
    path.write_bytes(write_sparse(m, keep))
    args = ["--format", "sparse", "--dim", "2", str(path)]
    assert_same_output(run_ok([tda_ph, *args]), run_ok([str(RIPSER), *args]), what="sparse")


@needs_ripser
def test_threshold_below_enclosing_radius_matches_debian_ripser(
    tda_ph: str, tmp_path: Path
) -> None:
    path = tmp_path / "m.lower"
    path.write_bytes(write_lower(small_matrix()))
    args = ["--format", "lower-distance", "--dim", "2", "--threshold", "2.3", str(path)]
    ours, theirs = run_ok([tda_ph, *args]), run_ok([str(RIPSER), *args])
    # Ripser's header gives n*n-1 halved for the possible entries; compare the intervals only.
    assert_same_output(ours, theirs, what="--threshold 2.3", headers=False)


# --------------------------------------------------------------------------------------------
# stdin, JSON, ratio, threads, metrics


def test_stdin_equals_file(tda_ph: str, tmp_path: Path) -> None:
    data = write_lower(small_matrix())
    path = tmp_path / "m.lower"
    path.write_bytes(data)
    args = [tda_ph, "--format", "lower-distance", "--dim", "2"]
    assert run_ok([*args, str(path)]) == run_ok(args, stdin=data)


def test_json_output(tda_ph: str) -> None:
    data = write_lower(small_matrix())
    args = [tda_ph, "--format", "lower-distance", "--dim", "2"]
    doc = json.loads(run_ok([*args, "--output", "json"], stdin=data))
    text = parse_ripser(run_ok(args, stdin=data))
    assert set(doc["diagrams"]) == {"0", "1", "2"}
    for dim, pairs in doc["diagrams"].items():
        for pair in pairs:
            assert len(pair) == 2
            assert isinstance(pair[0], float | int)
            assert pair[1] is None or isinstance(pair[1], float | int)
            assert pair[1] is None or pair[1] > pair[0], f"zero-persistence pair {pair}"
        as_tuples = [(float(b), math.inf if d is None else float(d)) for b, d in pairs]
        assert multiset_difference(as_tuples, text.diagrams[int(dim)]) is None
    assert sum(d is None for _, d in doc["diagrams"]["0"]) == 1


def test_json_values_equal_the_python_api(tda_ph: str) -> None:
    x = noisy_circle(50, 3)
    doc = json.loads(
        run_ok(
            [tda_ph, "--format", "point-cloud", "--dim", "1", "--output", "json"],
            stdin=write_points(x),
        )
    )
    from tda_backend.core import vietoris_rips

    want = vietoris_rips(x, maxdim=1).diagrams
    for dim in range(2):
        got = sorted((b, math.inf if d is None else d) for b, d in doc["diagrams"][str(dim)])
        assert multiset_difference(got, [tuple(p) for p in want[dim].tolist()], rtol=1e-12) is None


@needs_ripser
@needs_datasets
@pytest.mark.parametrize("ratio", ["1.1", "1.5", "3"])
def test_ratio_matches_debian_ripser(tda_ph: str, ratio: str) -> None:
    path = str(DATASETS / "sphere_3_192.lower_distance_matrix")
    args = ["--format", "lower-distance", "--dim", "2", "--ratio", ratio, path]
    assert_same_output(
        run_ok([tda_ph, *args]), run_ok([str(RIPSER), *args]), what=f"--ratio {ratio}"
    )


def test_ratio_filters_json_too(tda_ph: str) -> None:
    data = write_points(noisy_circle(60, 4))
    args = [tda_ph, "--format", "point-cloud", "--dim", "1", "--output", "json"]
    full = json.loads(run_ok(args, stdin=data))["diagrams"]["1"]
    filtered = json.loads(run_ok([*args, "--ratio", "1.5"], stdin=data))["diagrams"]["1"]
    want = [p for p in full if p[1] is None or p[1] > 1.5 * p[0]]
    assert sorted(map(tuple, filtered), key=str) == sorted(map(tuple, want), key=str)


@needs_datasets
def test_threads_give_identical_output(tda_ph: str) -> None:
    path = str(DATASETS / "sphere_3_192.lower_distance_matrix")
    args = [tda_ph, "--format", "lower-distance", "--dim", "2", path]
    assert run_ok([*args, "--threads", "1"]) == run_ok([*args, "--threads", "2"])


@pytest.mark.parametrize(
    ("metric", "scipy_metric"),
    [("manhattan", "cityblock"), ("chebyshev", "chebyshev"), ("cosine", "cosine")],
)
def test_metric_equals_its_distance_matrix(tda_ph: str, metric: str, scipy_metric: str) -> None:
    x = noisy_circle(40, 5) + 2.0  # away from the origin, for the cosine distance
    m = cdist(x, x, metric=scipy_metric)
    lower = "".join(
        ",".join(repr(float(m[i, j])) for j in range(i)) + "\n" for i in range(1, len(m))
    )
    from_points = run_ok(
        [tda_ph, "--format", "point-cloud", "--metric", metric, "--dim", "2"], stdin=write_points(x)
    )
    from_matrix = run_ok([tda_ph, "--format", "lower-distance", "--dim", "2"], stdin=lower.encode())
    assert_same_output(
        from_points, from_matrix, what=f"--metric {metric}", headers=False, rtol=1e-9
    )


# --------------------------------------------------------------------------------------------
# Bad input: exit code != 0 with a message on stderr; never a signal, a hang or a wrong answer

LOWER_OK = b"1\n2,3\n4,5,6\n"

BAD_RUNS: list[tuple[str, list[str], bytes]] = [
    ("nan-distance", ["--format", "lower-distance"], b"1\nnan,3\n4,5,6\n"),
    ("inf-distance", ["--format", "lower-distance"], b"1\ninf,3\n4,5,6\n"),
    ("nan-point", ["--format", "point-cloud"], b"0 0\n1 nan\n2 2\n"),
    ("inf-point", ["--format", "point-cloud"], b"0 0\n1 inf\n2 2\n"),
    ("negative-distance", ["--format", "lower-distance"], b"1\n-2,3\n4,5,6\n"),
    ("negative-sparse", ["--format", "sparse"], b"0 1 1\n1 2 -3\n"),
    ("non-square-full", ["--format", "distance"], b"0,1,2\n1,0,3\n"),
    ("asymmetric-full", ["--format", "distance"], b"0,1,2\n1,0,3\n2,5,0\n"),
    ("ragged-full", ["--format", "distance"], b"0,1,2\n1,0\n2,3,0\n"),
    ("ragged-points", ["--format", "point-cloud"], b"1 2\n3 4 5\n6 7\n"),
    ("not-triangular", ["--format", "lower-distance"], b"1\n2,3\n4\n"),
    ("not-triangular-upper", ["--format", "upper-distance"], b"1 2 3 4\n"),
    ("text-in-lower", ["--format", "lower-distance"], b"1\nabc,3\n4,5,6\n"),
    ("text-in-points", ["--format", "point-cloud"], b"1 2\nx y\n"),
    ("text-in-sparse", ["--format", "sparse"], b"0 1 one\n"),
    ("sparse-missing-value", ["--format", "sparse"], b"0 1\n"),
    ("sparse-negative-index", ["--format", "sparse"], b"-1 2 3\n"),
    ("empty-lower", ["--format", "lower-distance"], b""),
    ("empty-upper", ["--format", "upper-distance"], b""),
    ("empty-full", ["--format", "distance"], b""),
    ("empty-points", ["--format", "point-cloud"], b""),
    ("empty-sparse", ["--format", "sparse"], b""),
    ("empty-dipha", ["--format", "dipha"], b""),
    ("empty-binary", ["--format", "binary"], b""),
    ("blank-lines", ["--format", "point-cloud"], b"\n\n  \n"),
    ("dipha-bad-magic", ["--format", "dipha"], struct.pack("<qqq", 1234, 7, 2) + b"\0" * 32),
    ("dipha-bad-type", ["--format", "dipha"], struct.pack("<qqq", 8067171840, 3, 2) + b"\0" * 32),
    ("dipha-truncated", ["--format", "dipha"], struct.pack("<qqqd", 8067171840, 7, 3, 0.0)),
    ("dipha-huge-n", ["--format", "dipha"], struct.pack("<qqq", 8067171840, 7, 2**40)),
    ("dipha-negative-n", ["--format", "dipha"], struct.pack("<qqq", 8067171840, 7, -5)),
    ("binary-partial-float", ["--format", "binary"], struct.pack("<3f", 1, 2, 3) + b"\x01\x02"),
    ("binary-not-triangular", ["--format", "binary"], struct.pack("<4f", 1, 2, 3, 4)),
    ("binary-nan", ["--format", "binary"], struct.pack("<3f", 1, math.nan, 3)),
    ("modulus-4", ["--format", "lower-distance", "--modulus", "4"], LOWER_OK),
    ("modulus-1", ["--format", "lower-distance", "--modulus", "1"], LOWER_OK),
    ("modulus-0", ["--format", "lower-distance", "--modulus", "0"], LOWER_OK),
    ("modulus-text", ["--format", "lower-distance", "--modulus", "two"], LOWER_OK),
    ("negative-threshold", ["--format", "lower-distance", "--threshold", "-1"], LOWER_OK),
    ("nan-threshold", ["--format", "lower-distance", "--threshold", "nan"], LOWER_OK),
    ("negative-threshold-points", ["--format", "point-cloud", "--threshold", "-1"], b"0 0\n1 1\n"),
    ("negative-dim", ["--format", "lower-distance", "--dim", "-1"], LOWER_OK),
    ("unknown-format", ["--format", "csv"], LOWER_OK),
    ("unknown-metric", ["--format", "point-cloud", "--metric", "hamming-ish"], b"0 0\n1 1\n"),
    ("unknown-output", ["--format", "lower-distance", "--output", "xml"], LOWER_OK),
    ("zero-threads", ["--format", "lower-distance", "--threads", "0"], LOWER_OK),
    ("unknown-option", ["--format", "lower-distance", "--frobnicate"], LOWER_OK),
    ("missing-file", ["--format", "lower-distance", "/nonexistent/tda/file"], b""),
]


@pytest.mark.parametrize(("args", "stdin"), [pytest.param(a, s, id=i) for i, a, s in BAD_RUNS])
def test_bad_input_fails_cleanly(tda_ph: str, args: list[str], stdin: bytes) -> None:
    proc = run([tda_ph, *args], stdin=stdin, timeout=30)
    assert proc.returncode != 0, f"accepted: stdout {proc.stdout.decode()[:300]!r}"
    assert proc.stderr.strip(), "no message on stderr"


@pytest.mark.parametrize(("n", "dim"), [(200, 60), (3000, 40)])
def test_index_overflow_fails_cleanly(tda_ph: str, n: int, dim: int) -> None:
    points = "".join(f"{i} 0\n" for i in range(n)).encode()
    proc = run([tda_ph, "--format", "point-cloud", "--dim", str(dim)], stdin=points, timeout=30)
    assert proc.returncode != 0, f"accepted: stdout {proc.stdout.decode()[:300]!r}"
    assert re.search(rb"(?i)overflow|index|too (many|large)|dim", proc.stderr), proc.stderr


def test_one_point_is_refused_or_one_essential_class(tda_ph: str) -> None:
    proc = run([tda_ph, "--format", "point-cloud", "--dim", "1"], stdin=b"1 2\n", timeout=30)
    if proc.returncode != 0:
        assert proc.stderr.strip()
        return
    out = parse_ripser(proc.stdout.decode())
    assert out.diagrams == {0: [(0.0, math.inf)], 1: []}


def test_duplicate_points_are_valid(tda_ph: str) -> None:
    x = noisy_circle(20, 7)
    x = np.vstack([x, x[:5]])
    out = parse_ripser(
        run_ok([tda_ph, "--format", "point-cloud", "--dim", "1"], stdin=write_points(x))
    )
    unique = parse_ripser(
        run_ok([tda_ph, "--format", "point-cloud", "--dim", "1"], stdin=write_points(x[:20]))
    )
    assert out.diagrams == unique.diagrams  # duplicates only add zero-persistence pairs


@pytest.mark.parametrize("dim", [4, 5, 9])
def test_dim_at_least_n_is_valid(tda_ph: str, dim: int) -> None:
    out = parse_ripser(
        run_ok([tda_ph, "--format", "lower-distance", "--dim", str(dim)], stdin=LOWER_OK)
    )
    assert sorted(out.diagrams) == list(range(dim + 1))
    assert sorted(out.diagrams[0]) == [(0.0, 1.0), (0.0, 2.0), (0.0, 4.0), (0.0, math.inf)]
    assert all(out.diagrams[k] == [] for k in range(1, dim + 1))
