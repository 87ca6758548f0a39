"""atheris (libFuzzer for Python) target: the upload parsers of ``tda_backend.services.parsing``.

    .venv/bin/python tests/fuzz/fuzz_parsing.py -max_total_time=600 build/fuzz/corpus/parsing \
        tests/fuzz/corpus/parsing

The first byte picks the format (or a file name and content type for detection) and the kind; the
rest is the upload. Every input must end in a validated array or in one of the service's client
errors (422, 413, 415): any other exception is a crash.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).parent))

# The editable install serves tda_backend through its own import hook, which atheris's
# instrument_imports() does not see into (coverage stays at a dozen edges): instrument the loaded
# code's bytecode instead.
from parsing_target import check_one

atheris.instrument_all()


def _self_launcher() -> str:
    """An executable that reruns this target: libFuzzer's -fork and -merge start argv[0] as a
    program, and a .py file is not one."""
    path = Path(tempfile.gettempdir()) / f"tda-fuzz-parsing-{os.getuid()}.sh"
    path.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{Path(__file__).resolve()}" "$@"\n')
    path.chmod(stat.S_IRWXU)
    return str(path)


def main() -> None:
    atheris.Setup([_self_launcher(), *sys.argv[1:]], check_one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
