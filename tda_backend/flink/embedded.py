"""How a job's Python function reaches Flink's embedded interpreter (thread mode).

In thread mode the TaskManager's JVM runs the function in an interpreter it embeds (PEMJA). That
interpreter starts with the sys.path of the base installation, not the worker environment's, and
Flink puts the job's ``python.pythonpath`` in front as plain entries: the ``.pth`` files of the
environment's site-packages are not run, an editable install's import hook among them. So the
window job's function is pickled as a call of :func:`rebuild`, which cloudpickle writes by value
(this module is registered with it, and imports nothing of tda_backend at module level): on
unpickling, before anything of tda_backend is imported, it adds the environment's site
directories the way Python's ``site`` does at start-up, then builds the function.

In process mode the worker is the environment's own interpreter, which ran those files already.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any


def site_directories(python_executable: str) -> tuple[str, ...]:
    """The site-packages directories of the environment of ``python_executable``."""
    done = subprocess.run(
        [python_executable, "-c", "import json, site; print(json.dumps(site.getsitepackages()))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return tuple(json.loads(done.stdout))


def rebuild(site_dirs: tuple[str, ...], module: str, name: str, kwargs: dict[str, Any]) -> Any:
    """``module.name(**kwargs)``, once ``site_dirs`` are site directories of this interpreter:
    on sys.path, their ``.pth`` files run (again, in a worker process that ran them at start-up:
    their imports are done by then, and their paths are not added twice)."""
    import importlib
    import site

    for directory in site_dirs:
        site.addsitedir(directory)
    return getattr(importlib.import_module(module), name)(**kwargs)


def pickle_by_value() -> None:
    """Let cloudpickle write this module's functions by value (idempotent)."""
    import sys

    import cloudpickle  # type: ignore[import-untyped]

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
