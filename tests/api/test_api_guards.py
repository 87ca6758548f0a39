"""Guards on what clients send and what jobs may use, beyond those of test_api_data/test_api_jobs:
inputs the upload fuzzing found escaping as 500s, and the memory check repeated when a job starts.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from api_helpers import make_settings, npy_bytes, random_cloud, wait_for
from fastapi import FastAPI

from tda_backend.api.app import create_app
from tda_backend.config import Settings
from tda_backend.models.jobs import VietorisRipsRequest
from tda_backend.services import compute, parsing
from tda_backend.services.jobs import computation_for
from tda_backend.services.storage import BlobNotFound, FileBlobStore

# The start-time check is the embedded runner's; production workers share Executor._compute.
BACKENDS = ["embedded"]
UPLOAD = "/api/v1/data/upload"
RIPS = "/api/v1/tda/compute/vietoris-rips"
FOUND_BY_FUZZING = Path(__file__).parent.parent / "fuzz" / "regressions" / "parsing"


async def test_uploads_that_once_were_500s_are_422(client: httpx.AsyncClient) -> None:
    json_bodies = [b"[" * 100_000 + b"]" * 100_000, b"[[" + b"9" * 400 + b", 1]]"]
    for body in json_bodies:
        response = await client.post(
            UPLOAD, content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 422, response.text
        response = await client.post(UPLOAD, files={"file": ("d.json", body, "application/json")})
        assert response.status_code == 422, response.text
    for path in FOUND_BY_FUZZING.iterdir():
        npy = path.read_bytes()[1:]  # the first byte is the fuzz target's control byte
        response = await client.post(UPLOAD, files={"file": ("d.npy", npy, "application/x-npy")})
        assert response.status_code == 422, response.text
        assert "not a valid .npy" in response.text


@contextlib.asynccontextmanager
async def _serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def test_memory_is_checked_again_when_the_job_starts(tmp_path: Path) -> None:
    """Accepted by a server with a large MAX_JOB_MEMORY_MB, started by one with a small one (a
    restart with new settings, or another process): the job fails before computing, saying how
    large it would be and what to change."""
    cloud = random_cloud(150, 3, seed=5)
    params = {"maxdim": 2}
    request = VietorisRipsRequest(data_id="d", maxdim=2)
    needed = compute.estimate_mb(
        computation_for(
            "vietoris-rips", request.model_dump(exclude={"data_id"}), "point_cloud", "d"
        ),
        parsing.validate_array(cloud, "point_cloud", parsing.Limits(10**6, 10**3)),
    )
    accepting = make_settings(tmp_path, job_workers=0, max_job_memory_mb=needed * 10)
    async with _serving(create_app(accepting)) as client:
        data = await client.post(
            UPLOAD, files={"file": ("c.npy", npy_bytes(cloud), "application/octet-stream")}
        )
        job = await client.post(RIPS, json={"data_id": data.json()["data_id"], **params})
        assert job.status_code == 202, job.text
    starting = make_settings(tmp_path, job_workers=1, max_job_memory_mb=needed / 2)
    async with _serving(create_app(starting)) as client:
        failed = await wait_for(client, job.json()["job_id"], within=30)
    assert failed["status"] == "failed"
    assert "MAX_JOB_MEMORY_MB" in failed["error"]
    assert "MB" in failed["error"]
    assert "threshold" in failed["error"]


async def test_ids_never_become_paths(client: httpx.AsyncClient, settings: Settings) -> None:
    """Ids are looked up in the database only; blob names are validated digests."""
    hostile = ["..%2F..%2Fetc%2Fpasswd", "....//....//etc", "%00", "a" * 300, "~root", ".."]
    for value in hostile:
        for url in (
            f"/api/v1/data/{value}",
            f"/api/v1/tda/jobs/{value}",
            f"/api/v1/tda/results/{value}/csv",
        ):
            response = await client.get(url)
            assert response.status_code in (404, 405), (url, response.text)
        response = await client.post(RIPS, json={"data_id": value})
        assert response.status_code in (404, 422), response.text  # 422: longer than an id
    store = FileBlobStore(settings.blob_dir)
    for name in ("../../tda.db", "/etc/passwd", "0" * 63 + "/"):
        with pytest.raises(BlobNotFound):
            store.get(name)
