"""tda-platform: persistent homology as a service.

``tda_backend.core`` is the C++ engine's Python face; the rest of the package is the service around
it (API, jobs, storage, client). Importing this package imports nothing heavy.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tda-platform")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
