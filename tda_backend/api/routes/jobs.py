"""``/tda/compute`` and ``/tda/jobs``: starting computations and following them."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, cast

from fastapi import APIRouter, Query, Response

from tda_backend.api.deps import OwnerDep, RequestIdDep, ServicesDep
from tda_backend.models.common import ErrorOut
from tda_backend.models.jobs import (
    TERMINAL_STATUSES,
    Algorithm,
    AlphaComplexRequest,
    JobList,
    JobOut,
    JobStatus,
    VietorisRipsRequest,
)
from tda_backend.models.tables import Job
from tda_backend.services.jobs import ComputeRequest

router = APIRouter(prefix="/tda", tags=["jobs"])

API_PREFIX = "/api/v1"
# How long DELETE waits for a running job to acknowledge its cancellation before answering.
CANCEL_WAIT_S = 2.0


def job_out(job: Job) -> JobOut:
    return JobOut(
        job_id=job.id,
        status=cast(JobStatus, job.status),
        algorithm=cast(Algorithm, job.algorithm),
        data_id=job.data_id,
        params=job.params,
        progress=job.progress,
        error=job.error,
        attempts=job.attempts,
        reused=job.reused,
        cancel_requested=job.cancel_requested,
        request_id=job.request_id,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        result_url=f"{API_PREFIX}/tda/results/{job.id}" if job.status == "succeeded" else None,
    )


_SUBMIT_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "Unknown data_id"},
}


async def _submit(
    algorithm: Algorithm,
    body: ComputeRequest,
    response: Response,
    services: ServicesDep,
    owner: str | None,
    request_id: str | None,
) -> JobOut:
    job = await services.submitter.submit(algorithm, body, owner=owner, request_id=request_id)
    response.headers["Location"] = f"{API_PREFIX}/tda/jobs/{job.id}"
    return job_out(job)


@router.post("/compute/vietoris-rips", status_code=202, responses=_SUBMIT_RESPONSES)
async def compute_vietoris_rips(
    body: VietorisRipsRequest,
    response: Response,
    services: ServicesDep,
    owner: OwnerDep,
    request_id: RequestIdDep,
) -> JobOut:
    """Queue a Vietoris-Rips persistence computation on an uploaded point cloud or distance
    matrix. A computation identical to an earlier one (same data, same parameters) reuses its
    result and is answered already succeeded."""
    return await _submit("vietoris-rips", body, response, services, owner, request_id)


@router.post("/compute/alpha-complex", status_code=202, responses=_SUBMIT_RESPONSES)
async def compute_alpha_complex(
    body: AlphaComplexRequest,
    response: Response,
    services: ServicesDep,
    owner: OwnerDep,
    request_id: RequestIdDep,
) -> JobOut:
    """Queue an alpha-complex persistence computation on an uploaded point cloud."""
    return await _submit("alpha-complex", body, response, services, owner, request_id)


@router.get("/jobs")
async def list_jobs(
    services: ServicesDep,
    owner: OwnerDep,
    status: Annotated[JobStatus | None, Query(description="only jobs in this status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> JobList:
    """Jobs, newest first."""
    jobs, total = await services.repo.list_jobs(owner, status, limit, offset)
    return JobList(items=[job_out(j) for j in jobs], total=total, limit=limit, offset=offset)


@router.get("/jobs/{job_id}", responses={404: {"model": ErrorOut}})
async def get_job(job_id: str, services: ServicesDep, owner: OwnerDep) -> JobOut:
    """A job's status, progress (0..1), timestamps, parameters and error."""
    return job_out(await services.repo.get_job(job_id, owner))


@router.delete(
    "/jobs/{job_id}",
    responses={404: {"model": ErrorOut}, 409: {"model": ErrorOut, "description": "Finished"}},
)
async def cancel_job(job_id: str, services: ServicesDep, owner: OwnerDep) -> JobOut:
    """Cancel a queued or running job. A running job stops within about a second; the answer
    waits briefly for that, so it normally shows ``cancelled``."""
    job = await services.repo.request_cancel(job_id, owner)
    services.runner.cancel(job_id)
    waited = 0.0
    while job.status not in TERMINAL_STATUSES and waited < CANCEL_WAIT_S:
        await asyncio.sleep(0.1)
        waited += 0.1
        job = await services.repo.get_job(job_id, owner)
    return job_out(job)
