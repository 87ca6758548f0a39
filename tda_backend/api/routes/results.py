"""``/tda/results``: a succeeded job's diagrams as JSON, CSV, NPZ and SVG pictures."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Response

from tda_backend import render
from tda_backend.api.deps import OwnerDep, ServicesDep
from tda_backend.models.common import ErrorOut
from tda_backend.models.results import ResultOut
from tda_backend.services.results import diagrams_csv, diagrams_npz, with_job_fields

router = APIRouter(prefix="/tda/results", tags=["results"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "Unknown job"},
    409: {"model": ErrorOut, "description": "The job has not succeeded (yet)"},
}


_NAMES = {"vietoris-rips": "Vietoris-Rips", "alpha-complex": "Alpha complex"}


def _file(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    schema = {"type": "string", "format": "binary"} if "octet" in media_type else {"type": "string"}
    return {
        200: {"description": description, "content": {media_type: {"schema": schema}}},
        **_ERRORS,
    }


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


@router.get("/{job_id}", response_model=ResultOut, responses=_ERRORS)
async def get_result(job_id: str, services: ServicesDep, owner: OwnerDep) -> Response:
    """Diagrams per dimension (``null`` death = infinite), Betti numbers, summary,
    representatives when asked for, and the computation's metadata. 409 until succeeded."""
    job = await services.repo.get_job(job_id, owner)
    document = await services.results.document_bytes(job)
    return Response(with_job_fields(document, job), media_type="application/json")


@router.get(
    "/{job_id}/csv",
    response_class=Response,
    responses=_file(
        "text/csv", "One row per pair: dimension,birth,death (death inf when essential)"
    ),
)
async def get_result_csv(job_id: str, services: ServicesDep, owner: OwnerDep) -> Response:
    """The diagrams as CSV."""
    job = await services.repo.get_job(job_id, owner)
    document = await services.results.document(job)
    return Response(
        diagrams_csv(document), media_type="text/csv", headers=_attachment(f"{job_id}.csv")
    )


@router.get(
    "/{job_id}/npz",
    response_class=Response,
    responses=_file(
        "application/octet-stream", "NumPy .npz: dgm_<k> arrays (n, 2), betti, metadata (JSON)"
    ),
)
async def get_result_npz(job_id: str, services: ServicesDep, owner: OwnerDep) -> Response:
    """The diagrams as a NumPy archive (``numpy.load(f)["dgm_1"]``)."""
    job = await services.repo.get_job(job_id, owner)
    document = await services.results.document(job)
    content = await asyncio.to_thread(diagrams_npz, document)
    return Response(
        content, media_type="application/octet-stream", headers=_attachment(f"{job_id}.npz")
    )


@router.get(
    "/{job_id}/diagram.svg",
    response_class=Response,
    responses=_file("image/svg+xml", "The persistence diagram"),
)
async def get_result_diagram(job_id: str, services: ServicesDep, owner: OwnerDep) -> Response:
    """The persistence diagram as an SVG picture."""
    job = await services.repo.get_job(job_id, owner)
    document = await services.results.document(job)
    svg = await asyncio.to_thread(
        render.persistence_diagram_svg,
        document["diagrams"],
        f"{_NAMES[job.algorithm]} persistence diagram",
        f"job {job.id}",
    )
    return Response(svg, media_type="image/svg+xml")


@router.get(
    "/{job_id}/barcode.svg",
    response_class=Response,
    responses=_file("image/svg+xml", "The barcode"),
)
async def get_result_barcode(job_id: str, services: ServicesDep, owner: OwnerDep) -> Response:
    """The barcode as an SVG picture."""
    job = await services.repo.get_job(job_id, owner)
    document = await services.results.document(job)
    svg = await asyncio.to_thread(
        render.barcode_svg,
        document["diagrams"],
        f"{_NAMES[job.algorithm]} barcode",
        f"job {job.id}",
    )
    return Response(svg, media_type="image/svg+xml")
