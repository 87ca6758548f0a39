#!/usr/bin/env python3
"""Vietoris-Rips side by side: tda-ph (1 and 2 threads), Debian's ripser 1.2 and giotto-ph.

Every run is a child process of its own, so wall time and peak memory belong to that run
alone. Time and memory come from two runs of the same command (see measure()): the timed run
is spawned directly by this script (no wrapper process between the clock and the program), the
memory run under GNU time, which reports the program's own ru_maxrss. Runs are interleaved
(each repetition runs every tool once, in a rotating order) and reported as medians, with
ratios against Ripser and against giotto-ph at the same thread count. Each tool's diagrams are
checked against Ripser's output (a multiset compare within 1e-5 relative, since Ripser prints
6 significant digits); a disagreement is flagged in the table.

    python bench/bench_rips.py                  # everything, 3 repetitions (o3_4096: 2)
    python bench/bench_rips.py --quick          # 1 repetition, without o3_4096
    python bench/bench_rips.py --only o3_1024 --reps 5

giotto-ph runs in a Python child process (this script with --giotto-worker); its time is the
reading of the input plus the computation, measured inside the child, so the interpreter's
start-up is not counted; its peak memory includes the interpreter with NumPy, SciPy and
giotto-ph loaded and its first call made (the baseline line gives that share).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATASETS = REPO.parent / "shared" / "datasets"
RTOL = 1e-5


@dataclass(frozen=True)
class Input:
    name: str
    file: str  # in the datasets folder, or generated into the work folder
    fmt: str
    dim: int
    threshold: float | None = None
    large: bool = False  # fewer repetitions; skipped by --quick

    def ripser_args(self) -> list[str]:
        args = ["--format", self.fmt, "--dim", str(self.dim)]
        if self.threshold is not None:
            args += ["--threshold", repr(self.threshold)]
        return args

    def describe(self) -> str:
        return " ".join(self.ripser_args())


INPUTS = [
    Input("o3_1024", "o3_1024.txt", "point-cloud", 3, 1.8),
    Input("o3_4096", "o3_4096.txt", "point-cloud", 3, 1.4, large=True),
    Input("sphere_3_192", "sphere_3_192.lower_distance_matrix", "lower-distance", 2),
    Input("random16", "random16.lower_distance_matrix", "lower-distance", 7),
    Input("torus_600", "torus_600.txt", "point-cloud", 2),
]


def write_torus(path: Path, n: int = 600, seed: int = 2024) -> None:
    """A noisy torus in R^3 (radii 1 and 0.45, Gaussian noise 0.02)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    u, v = rng.uniform(0, 2 * np.pi, (2, n))
    ring = 1.0 + 0.45 * np.cos(v)
    x = np.column_stack([ring * np.cos(u), ring * np.sin(u), 0.45 * np.sin(v)])
    x += 0.02 * rng.standard_normal((n, 3))
    np.savetxt(path, x, fmt="%.17g")


# --------------------------------------------------------------------------------------------
# Running one child and measuring it


@dataclass
class Measurement:
    seconds: float
    peak_mb: float
    ok: bool
    output: str  # Ripser-layout text, or the giotto worker's JSON
    error: str = ""


# A child forked from this Python process starts with its memory image, and Linux counts that
# image in the child's ru_maxrss even after exec (about 11 MB here). GNU time (`time` package)
# forks the measured program from its own small image and reads the program's ru_maxrss from
# wait4, so the peak comes from a run under GNU time when it is installed (otherwise from this
# process's own os.wait4 figure, floor included). That wrapper is a second fork and exec between
# the clock and the program, about 1 ms of every run on this machine (its /bin/true costs 1.3 ms
# from a shell loop), which is most of a run of a few ms: the time therefore comes from a run
# spawned directly, and the two figures from two runs of the same command.
GNU_TIME = next((p for p in ("/usr/bin/time",) if os.access(p, os.X_OK)), None)


def measure(cmd: list[str], timeout: float, *, peak_run: bool = True) -> Measurement:
    """Run ``cmd`` once; with ``peak_run`` under GNU time (the peak is the program's own), else
    spawned directly (the time has no wrapper in it; the peak includes this process's image)."""
    wrapped = peak_run and GNU_TIME is not None
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r") as rss,
    ):
        argv = [GNU_TIME, "-f", "%M", "-o", rss.name, *cmd] if wrapped and GNU_TIME else cmd
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text = out.read().decode(errors="replace")
        error = err.read().decode(errors="replace").strip()
        # ru_maxrss is in KiB on Linux; GNU time's %M is the same field of the program.
        peak_kib = float(usage.ru_maxrss)
        if wrapped:
            lines = rss.read().split()
            peak_kib = float(lines[-1]) if lines and lines[-1].isdigit() else math.nan
    ok = proc.returncode == 0
    if not ok:
        error = f"exit {proc.returncode}: {error[-300:]}"
    return Measurement(seconds, peak_kib / 1024, ok, text, error)


# Runs longer than this take their peak from the first repetition's memory run only: the peak
# is a property of the input (the same within 1% between runs), the second run doubles the cost.
PEAK_EVERY_REP_BELOW_S = 5.0
# A run shorter than SHORT_RUN_S is repeated back to back until the repetition has spent
# SHORT_REP_BUDGET_S (at most SHORT_REP_MAX_RUNS runs), and the repetition's time is the median
# of those runs, as timeit and hyperfine do: one run of a few ms varies by 2x with what ran just
# before it (the previous tool's exit, a giotto-ph interpreter of 190 MB freeing its memory).
SHORT_RUN_S = 0.05
SHORT_REP_BUDGET_S = 0.3
SHORT_REP_MAX_RUNS = 60


def measure_tool(cmd: list[str], timeout: float, timed_in_child: bool, rep: int) -> Measurement:
    """Time and peak of one repetition. A giotto-ph worker times itself inside the child, so one
    run under GNU time gives both; a program's time comes from a direct run (the median of
    back-to-back runs when it is short) and its peak from a run under GNU time (see above), or
    NaN when that run is saved (a long run after the first repetition)."""
    if timed_in_child or GNU_TIME is None:
        return measure(cmd, timeout)
    timed = measure(cmd, timeout, peak_run=False)
    if not timed.ok:
        return timed
    if timed.seconds < SHORT_RUN_S:
        times = [timed.seconds]
        while sum(times) < SHORT_REP_BUDGET_S and len(times) < SHORT_REP_MAX_RUNS:
            again = measure(cmd, timeout, peak_run=False)
            if not again.ok:
                return again
            times.append(again.seconds)
        timed.seconds = statistics.median(times)
    if rep > 0 and timed.seconds >= PEAK_EVERY_REP_BELOW_S:
        timed.peak_mb = math.nan
        return timed
    peak = measure(cmd, timeout)
    if not peak.ok:
        return peak
    timed.peak_mb = peak.peak_mb
    return timed


# --------------------------------------------------------------------------------------------
# Diagrams from each tool's output, and the comparison with Ripser's

Diagrams = dict[int, list[tuple[float, float]]]

INTERVAL = re.compile(r" \[([^,\]]+),([^)]*)\)")
DIM_LINE = re.compile(r"persistence intervals in dim (\d+):")


def parse_ripser_text(text: str) -> Diagrams:
    diagrams: Diagrams = {}
    dim = None
    for line in text.splitlines():
        if m := DIM_LINE.fullmatch(line):
            dim = int(m[1])
            diagrams[dim] = []
        elif dim is not None and (m := INTERVAL.fullmatch(line)):
            death = math.inf if not m[2].strip() else float(m[2])
            diagrams[dim].append((float(m[1]), death))
    return diagrams


def parse_worker_json(text: str) -> tuple[Diagrams, float]:
    doc = json.loads(text)
    diagrams = {
        int(k): [(b, math.inf if d is None else d) for b, d in pairs]
        for k, pairs in doc["diagrams"].items()
    }
    return diagrams, float(doc["seconds"])


def _close(a: float, b: float) -> bool:
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= RTOL * max(abs(a), abs(b)) * (1 + 1e-9)


def disagreement(ours: Diagrams, reference: Diagrams) -> str | None:
    """None when the multisets agree dimension by dimension, else a short description."""
    for dim in sorted(set(ours) | set(reference)):
        a = sorted((b, d) for b, d in ours.get(dim, []) if b != d)
        r = sorted((b, d) for b, d in reference.get(dim, []) if b != d)
        if len(a) != len(r):
            return f"dim {dim}: {len(a)} pairs vs {len(r)}"
        if all(_close(x[0], y[0]) and _close(x[1], y[1]) for x, y in zip(a, r, strict=True)):
            continue
        # Sorting may misalign values within the tolerance: match greedily before flagging.
        pool = list(r)
        for x in a:
            hit = next(
                (i for i, y in enumerate(pool) if _close(x[0], y[0]) and _close(x[1], y[1])), None
            )
            if hit is None:
                return f"dim {dim}: {x} has no match"
            pool.pop(hit)
    return None


# --------------------------------------------------------------------------------------------
# giotto-ph in a child process


def load_for_giotto(path: str, fmt: str):  # type: ignore[no-untyped-def]
    import numpy as np

    if fmt == "point-cloud":
        return np.loadtxt(path, ndmin=2), "euclidean"
    values = np.array(
        [float(v) for v in Path(path).read_text().replace(",", " ").split()], dtype=np.float64
    )
    n = round((1 + math.sqrt(1 + 8 * len(values))) / 2)
    matrix = np.zeros((n, n))
    matrix[np.tril_indices(n, -1)] = values  # row-major lower triangle
    return matrix + matrix.T, "precomputed"


def giotto_worker(args: argparse.Namespace) -> int:
    import numpy as np
    from gph import ripser_parallel

    if args.baseline:
        # Everything but the input: the interpreter, the imports and giotto-ph's first call.
        ripser_parallel(np.array([[0.0], [1.0], [3.0]]), maxdim=1)
        print(json.dumps({"diagrams": {}, "seconds": 0.0}))
        return 0
    start = time.perf_counter()
    data, metric = load_for_giotto(args.file, args.fmt)
    thresh = np.inf if args.threshold is None else args.threshold
    res = ripser_parallel(
        data, maxdim=args.dim, thresh=thresh, metric=metric, n_threads=args.threads
    )
    seconds = time.perf_counter() - start
    diagrams = {
        str(k): [[float(b), None if math.isinf(d) else float(d)] for b, d in dgm]
        for k, dgm in enumerate(res["dgms"])
    }
    print(json.dumps({"diagrams": diagrams, "seconds": seconds}))
    return 0


# --------------------------------------------------------------------------------------------
# The benchmark


@dataclass
class Tool:
    name: str
    threads: int
    kind: str  # tda-ph | ripser | giotto

    def command(self, inp: Input, path: Path, exe: dict[str, str]) -> list[str]:
        if self.kind == "giotto":
            cmd = [
                sys.executable,
                str(Path(__file__).resolve()),
                "--giotto-worker",
                "--file",
                str(path),
                "--fmt",
                inp.fmt,
                "--dim",
                str(inp.dim),
                "--threads",
                str(self.threads),
            ]
            if inp.threshold is not None:
                cmd += ["--threshold", repr(inp.threshold)]
            return cmd
        cmd = [exe[self.kind], *inp.ripser_args(), str(path)]
        if self.kind == "tda-ph":
            cmd += ["--threads", str(self.threads)]
        return cmd


TOOLS = [
    Tool("tda-ph", 1, "tda-ph"),
    Tool("tda-ph --threads 2", 2, "tda-ph"),
    Tool("ripser 1.2", 1, "ripser"),
    Tool("giotto-ph n_threads=1", 1, "giotto"),
    Tool("giotto-ph n_threads=2", 2, "giotto"),
]


@dataclass
class Row:
    times: list[float] = field(default_factory=list)
    peaks: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    disagreements: list[str] = field(default_factory=list)

    def median_time(self) -> float:
        return statistics.median(self.times) if self.times else math.nan

    def median_peak(self) -> float:
        return statistics.median(self.peaks) if self.peaks else math.nan


def rotated(items: list[Tool], k: int) -> Iterator[Tool]:
    k %= len(items)
    yield from items[k:] + items[:k]


def run_input(
    inp: Input, path: Path, reps: int, exe: dict[str, str], timeout: float
) -> dict[str, Row]:
    rows = {tool.name: Row() for tool in TOOLS}
    for rep in range(reps):
        outputs: dict[str, Diagrams] = {}
        for tool in rotated(TOOLS, rep):
            m = measure_tool(tool.command(inp, path, exe), timeout, tool.kind == "giotto", rep)
            row = rows[tool.name]
            seconds = m.seconds
            if not m.ok:
                row.failures.append(m.error)
            elif tool.kind == "giotto":
                outputs[tool.name], seconds = parse_worker_json(m.output)
            else:
                outputs[tool.name] = parse_ripser_text(m.output)
            print(
                f"  {inp.name:<13} rep {rep + 1}/{reps}  {tool.name:<22} "
                f"{seconds:8.3f} s {m.peak_mb:8.1f} MB {'' if m.ok else m.error}",
                file=sys.stderr,
                flush=True,
            )
            if m.ok:
                row.times.append(seconds)
                if not math.isnan(m.peak_mb):
                    row.peaks.append(m.peak_mb)
        reference = outputs.pop("ripser 1.2", None)
        if reference is None:
            continue
        for name, diagrams in outputs.items():
            if diff := disagreement(diagrams, reference):
                rows[name].disagreements.append(diff)
    return rows


def ratio(a: float, b: float) -> str:
    return "-" if not (a > 0 and b > 0) else f"{a / b:.2f}"


def table(results: dict[str, dict[str, Row]], inputs: dict[str, Input], baseline_mb: float) -> str:
    lines = [
        "| input | tool | median s | peak MB | time / ripser | time / giotto-ph "
        "| mem / ripser | output |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, rows in results.items():
        ripser_row = rows["ripser 1.2"]
        for tool in TOOLS:
            row = rows[tool.name]
            giotto_row = rows[f"giotto-ph n_threads={tool.threads}"]
            if row.failures:
                status = f"FAILED ({row.failures[0][:60]})"
            elif row.disagreements:
                status = f"DIFFERS from Ripser: {row.disagreements[0][:80]}"
            elif tool.kind == "ripser":
                status = "reference"
            else:
                status = "agrees"
            vs_giotto = (
                ratio(row.median_time(), giotto_row.median_time()) if tool.kind == "tda-ph" else ""
            )
            lines.append(
                f"| {name} | {tool.name} | {row.median_time():.3f} | {row.median_peak():.1f} | "
                f"{ratio(row.median_time(), ripser_row.median_time())} | {vs_giotto} | "
                f"{ratio(row.median_peak(), ripser_row.median_peak())} | {status} |"
            )
    header = [
        "Inputs: " + "; ".join(f"{n}: `{inputs[n].describe()}`" for n in results),
        "giotto-ph peak memory includes the Python interpreter with its imports: "
        f"{baseline_mb:.0f} MB for a worker that only runs giotto-ph on 3 points.",
        "",
    ]
    return "\n".join(header + lines)


def resolve_tda_ph(given: str | None) -> str:
    for candidate in (
        given,
        shutil.which("tda-ph", path=str(Path(sys.executable).parent)),
        str(REPO / "build" / "cpp" / "tda-ph"),
        shutil.which("tda-ph"),
    ):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    sys.exit("tda-ph not found: build it (make build) or pass --tda-ph PATH")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1 repetition, without o3_4096")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help=f"run only this input (repeatable): {', '.join(i.name for i in INPUTS)}",
    )
    parser.add_argument("--reps", type=int, help="repetitions (default 3; o3_4096: 2)")
    parser.add_argument("--datasets", default=os.environ.get("TDA_DATASETS", str(DEFAULT_DATASETS)))
    parser.add_argument("--tda-ph", dest="tda_ph")
    parser.add_argument("--ripser", default=shutil.which("ripser") or "/usr/bin/ripser")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per run")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    # The giotto-ph child process.
    parser.add_argument("--giotto-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--fmt", help=argparse.SUPPRESS)
    parser.add_argument("--dim", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--threshold", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.giotto_worker:
        return giotto_worker(args)

    known = {i.name: i for i in INPUTS}
    unknown = set(args.only) - set(known)
    if unknown:
        parser.error(f"unknown input(s) {sorted(unknown)}; choose from {sorted(known)}")
    selected = [
        i for i in INPUTS if (i.name in args.only if args.only else not (args.quick and i.large))
    ]
    if not os.access(args.ripser, os.X_OK):
        sys.exit(f"Debian's ripser not found at {args.ripser} (apt-get install ripser)")
    exe = {"tda-ph": resolve_tda_ph(args.tda_ph), "ripser": args.ripser}
    datasets = Path(args.datasets)

    baseline = measure(
        [sys.executable, str(Path(__file__).resolve()), "--giotto-worker", "--baseline"], 120
    )
    print(f"tda-ph: {exe['tda-ph']}\nripser: {exe['ripser']}\n", file=sys.stderr)
    results: dict[str, dict[str, Row]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-rips-") as work:
        for inp in selected:
            path = datasets / inp.file
            if inp.name.startswith("torus"):
                path = Path(work) / inp.file
                write_torus(path)
            if not path.is_file():
                print(f"skipping {inp.name}: {path} not found", file=sys.stderr)
                continue
            reps = args.reps or (1 if args.quick else (2 if inp.large else 3))
            results[inp.name] = run_input(inp, path, reps, exe, args.timeout)
    report = table(results, {i.name: i for i in INPUTS}, baseline.peak_mb)
    print(report)
    if args.markdown:
        args.markdown.write_text(report + "\n")
    failed = any(
        row.failures or row.disagreements for rows in results.values() for row in rows.values()
    )
    return 1 if failed else 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
