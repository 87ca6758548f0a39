"""Alpha-complex persistence: tda_backend.core.alpha_complex against GUDHI's AlphaComplex.

Uniform random points in the unit cube. Every run is a fresh subprocess (so peak memory is the
run's own: ru_maxrss of the child, which includes the interpreter and the points, reported
beside the baseline of an idle child); the tools alternate within each repetition and the
figures are medians. The engine's time is split into triangulation (deduplication + Delaunay),
filtration (alpha values, faces), sort and reduction (union-find and matrix reduction).
GUDHI's split is complex construction (AlphaComplex + create_simplex_tree) and persistence.

    python bench/bench_alpha.py                       # the issue's sizes
    python bench/bench_alpha.py --cases 3:100000 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

import numpy as np

DEFAULT_CASES = "3:10000,3:100000,2:100000,3:1000000,2:1000000"
TOOLS = ("tda", "gudhi")


def points(n: int, dim: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((n, dim))


def count_pairs(diagrams: list[np.ndarray]) -> list[int]:
    """Pairs per dimension with persistence above 1e-9 relative (comparable across tools)."""
    counts = []
    for d in diagrams:
        d = np.asarray(d, dtype=np.float64).reshape(-1, 2)
        finite = np.isfinite(d[:, 1])
        keep = ~finite | (d[:, 1] - d[:, 0] > 1e-9 * np.abs(d[:, 1]))
        counts.append(int(keep.sum()))
    return counts


def run_tda(x: np.ndarray) -> dict[str, Any]:
    from tda_backend.core.alpha import alpha_complex

    started = time.perf_counter()
    result = alpha_complex(x)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "split": result.metadata["timings"],
        "simplices": result.metadata["simplices"],
        "pairs": count_pairs(result.diagrams),
    }


def run_gudhi(x: np.ndarray) -> dict[str, Any]:
    import gudhi

    started = time.perf_counter()
    tree = gudhi.AlphaComplex(points=x).create_simplex_tree()
    built = time.perf_counter()
    tree.compute_persistence()
    seconds = time.perf_counter() - started
    diagrams = [tree.persistence_intervals_in_dimension(k) for k in range(x.shape[1])]
    return {
        "seconds": seconds,
        "split": {"complex": built - started, "persistence": seconds - (built - started)},
        "simplices": tree.num_simplices(),
        "pairs": count_pairs(diagrams),
    }


def worker(tool: str, n: int, dim: int, seed: int) -> None:
    x = points(n, dim, seed)
    if tool == "tda":
        record = run_tda(x)
    elif tool == "gudhi":
        record = run_gudhi(x)
    else:
        # Idle child: the interpreter, NumPy and the points, for the memory baseline.
        record = {"seconds": 0.0}
    record["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(record))


def spawn(tool: str, n: int, dim: int, seed: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", tool, str(n), str(dim), str(seed)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=DEFAULT_CASES, help="dim:n,... (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="repetitions below 1M points")
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", help="also write every run to this file")
    parser.add_argument("--worker", nargs=4, metavar=("TOOL", "N", "DIM", "SEED"))
    args = parser.parse_args()
    if args.worker:
        tool, n, dim, seed = args.worker
        worker(tool, int(n), int(dim), int(seed))
        return

    tools = args.tools.split(",")
    cases = [tuple(int(v) for v in case.split(":")) for case in args.cases.split(",")]
    runs: list[dict[str, Any]] = []
    rows = []
    for dim, n in cases:
        repeats = 1 if n >= 1_000_000 else args.repeats
        baseline = spawn("idle", n, dim, args.seed)["peak_mb"]
        by_tool: dict[str, list[dict[str, Any]]] = {tool: [] for tool in tools}
        for rep in range(repeats):
            order = tools if rep % 2 == 0 else tools[::-1]
            for tool in order:
                record = spawn(tool, n, dim, args.seed + rep)
                record.update(tool=tool, n=n, dim=dim, rep=rep)
                by_tool[tool].append(record)
                runs.append(record)
                print(
                    f"  {dim}D n={n} rep={rep} {tool}: {record['seconds']:.2f}s "
                    f"{record['peak_mb']:.0f}MB pairs={record['pairs']}",
                    file=sys.stderr,
                )
        medians = {t: statistics.median(r["seconds"] for r in by_tool[t]) for t in tools}
        peaks = {t: statistics.median(r["peak_mb"] for r in by_tool[t]) for t in tools}
        split = (
            {
                key: statistics.median(r["split"][key] for r in by_tool["tda"])
                for key in ("triangulation", "filtration", "sort", "reduction")
            }
            if "tda" in tools
            else {}
        )
        rows.append((dim, n, repeats, medians, peaks, baseline, split))

    print(
        "| points | runs | tda (s) | GUDHI (s) | ratio | tda peak MB | GUDHI peak MB | "
        "tda split: triangulation / filtration / sort / reduction (s) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for dim, n, repeats, medians, peaks, _baseline, split in rows:
        ours = medians.get("tda", float("nan"))
        theirs = medians.get("gudhi", float("nan"))
        parts = " / ".join(f"{split[k]:.2f}" for k in split) if split else "-"
        print(
            f"| {n:,} in {dim}D | {repeats} | {ours:.2f} | {theirs:.2f} | {ours / theirs:.3f} | "
            f"{peaks.get('tda', float('nan')):.0f} | {peaks.get('gudhi', float('nan')):.0f} | "
            f"{parts} |"
        )
    print(f"\n(idle child baseline: {rows[0][5]:.0f} MB peak)" if rows else "")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(runs, f, indent=1)


if __name__ == "__main__":
    main()
