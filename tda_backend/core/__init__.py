"""The C++23 persistent-homology engine: NumPy in, diagrams out, GIL released while computing."""

from tda_backend.core.alpha import alpha_complex, estimate_alpha
from tda_backend.core.rips import (
    ENGINE_VERSION,
    Cancelled,
    CancelToken,
    Estimate,
    PersistenceResult,
    ResourceError,
    estimate_rips,
    vietoris_rips,
)

__all__ = [
    "ENGINE_VERSION",
    "CancelToken",
    "Cancelled",
    "Estimate",
    "PersistenceResult",
    "ResourceError",
    "alpha_complex",
    "estimate_alpha",
    "estimate_rips",
    "vietoris_rips",
]
