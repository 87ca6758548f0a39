#!/usr/bin/env python3
"""Run every bench/bench_*.py in turn, passing the same arguments to each (e.g. --quick).

Exits non-zero when any benchmark does (a failed run or an output that disagrees with its
reference).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def main() -> int:
    here = Path(__file__).resolve().parent
    failed = []
    for script in sorted(here.glob("bench_*.py")):
        print(f"\n===== {script.name} {' '.join(sys.argv[1:])}", flush=True)
        if subprocess.run([sys.executable, str(script), *sys.argv[1:]], check=False).returncode:
            failed.append(script.name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
