"""The jobs family: computation requests, job states and job listings."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Algorithm = Literal["vietoris-rips", "alpha-complex"]
JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
TERMINAL_STATUSES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})
Metric = Literal["euclidean", "manhattan", "chebyshev", "cosine"]

# The engine's coefficient fields are Z/pZ with p small enough for its lookup tables.
MAX_COEFF = 65_521


def _is_prime(n: int) -> bool:
    if n < 2:
        return False
    if n % 2 == 0:
        return n == 2
    f = 3
    while f * f <= n:
        if n % f == 0:
            return False
        f += 2
    return True


class _ComputeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data_id: str = Field(min_length=1, max_length=64, description="from POST /data/upload")
    coeff: int = Field(2, ge=2, le=MAX_COEFF, description="prime p: homology over Z/pZ")
    representatives: bool = Field(False, description="also return birth and death simplices")

    @field_validator("coeff")
    @classmethod
    def _prime(cls, value: int) -> int:
        if not _is_prime(value):
            raise ValueError(f"coefficient field needs a prime modulus, {value} is not prime")
        return value

    def engine_params(self) -> dict[str, Any]:
        """The parameters that define the result (what result reuse compares)."""
        return self.model_dump(exclude={"data_id"})


class VietorisRipsRequest(_ComputeRequest):
    maxdim: int = Field(1, ge=0, le=32, description="highest homology dimension computed")
    threshold: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="largest edge length; null = no limit"
    )
    metric: Metric = "euclidean"
    n_threads: int = Field(1, ge=1, le=64, description="engine threads for this job")

    def engine_params(self) -> dict[str, Any]:
        # n_threads changes how fast, not what: it is not part of the result's identity.
        return self.model_dump(exclude={"data_id", "n_threads"})


class AlphaComplexRequest(_ComputeRequest):
    maxdim: int | None = Field(
        None, ge=0, le=32, description="highest homology dimension; null = up to the ambient one"
    )
    values: Literal["squared_radius", "radius"] = Field(
        "squared_radius", description="filtration values: squared radii (GUDHI) or radii"
    )


class JobOut(BaseModel):
    job_id: str
    status: JobStatus
    algorithm: Algorithm
    data_id: str
    params: dict[str, Any]
    progress: float = Field(ge=0, le=1)
    error: str | None
    attempts: int
    reused: bool = Field(description="true when an earlier identical computation's result is used")
    cancel_requested: bool
    request_id: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    result_url: str | None = Field(description="where the result is, once succeeded")


class JobList(BaseModel):
    items: list[JobOut]
    total: int
    limit: int
    offset: int
