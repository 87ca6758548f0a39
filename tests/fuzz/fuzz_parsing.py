"""atheris (libFuzzer for Python) target: the upload parsers of ``tda_backend.services.parsing``.

    .venv/bin/python tests/fuzz/fuzz_parsing.py -max_total_time=600 build/fuzz/corpus/parsing \
        tests/fuzz/corpus/parsing

The first byte picks the format (or a file name and content type for detection) and the kind; the
rest is the upload. Every input must end in a validated array or in one of the service's client
errors (422, 413, 415): any other exception is a crash.
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).parent))

with atheris.instrument_imports(include=["tda_backend", "parsing_target"]):
    from parsing_target import check_one


def main() -> None:
    atheris.Setup(sys.argv, check_one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
