"""The window job's function unpickles where Flink's thread mode runs it: in an interpreter of
the base Python installation whose sys.path has the worker environment's site directories in
front as plain entries (no ``.pth`` file run), as PEMJA and ``python.pythonpath`` leave it."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import cloudpickle  # type: ignore[import-untyped]
import pytest

from tda_backend.flink import embedded
from tda_backend.flink.jobs import sliding_windows
from tda_backend.flink.windows import WindowSpec

LOAD = """
import sys
sys.path[:0] = sys.argv[1:]
import cloudpickle
function = cloudpickle.loads(sys.stdin.buffer.read())
from pyflink.datastream import KeyedProcessFunction
assert isinstance(function, KeyedProcessFunction), type(function)
print(type(function).__name__, function.__reduce__()[1][3]["size"])
"""


def load_embedded(payload: bytes, site_dirs: tuple[str, ...]) -> subprocess.CompletedProcess[bytes]:
    # The base installation's interpreter, without its site module, in a directory without the
    # sources: nothing of the environment on sys.path but the site directories given.
    return subprocess.run(
        [sys._base_executable, "-S", "-c", LOAD, *site_dirs],  # type: ignore[attr-defined]
        cwd="/",
        input=payload,
        capture_output=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def site_dirs() -> tuple[str, ...]:
    return embedded.site_directories(sys.executable)


def test_site_directories_are_the_environments(site_dirs: tuple[str, ...]) -> None:
    import site

    assert site_dirs == tuple(site.getsitepackages())


def test_the_window_function_unpickles_in_a_bare_interpreter(site_dirs: tuple[str, ...]) -> None:
    spec = WindowSpec(size=12, slide=4, maxdim=1, mode="delay", embedding_dimension=2)
    embedded.pickle_by_value()
    function = sliding_windows(site_dirs, **dataclasses.asdict(spec))
    done = load_embedded(cloudpickle.dumps(function), site_dirs)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert done.stdout.split() == [b"SlidingWindows", b"12"]


def test_a_plain_pickle_of_the_package_does_not(site_dirs: tuple[str, ...]) -> None:
    """What the bootstrap is for: a value pickled by reference to tda_backend does not load
    there. The package is installed editable (scripts/bootstrap.sh), and the import hook that
    finds it is run by a .pth file."""
    done = load_embedded(cloudpickle.dumps(WindowSpec(size=12, slide=4)), site_dirs)
    assert done.returncode != 0
    assert b"No module named 'tda_backend" in done.stderr, done.stderr.decode()[-2000:]
