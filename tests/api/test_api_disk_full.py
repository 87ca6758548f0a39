"""DATA_DIR on a full disk: a 2 MB tmpfs (mounting needs root; skipped otherwise).

Uploads that cannot be stored get 507 with a message naming DATA_DIR, never a 500; nothing of them
is visible or left behind; a job whose result cannot be stored fails saying so and the worker goes
on; once space is freed everything works again.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from api_helpers import circle, make_settings, npy_bytes, random_cloud, wait_for
from fastapi import FastAPI

from tda_backend.api.app import create_app
from tda_backend.config import Settings
from tda_backend.services.storage import FileBlobStore

# Production mode keeps blobs and rows in PostgreSQL: DATA_DIR holds nothing there.
BACKENDS = ["embedded"]
UPLOAD = "/api/v1/data/upload"
RIPS = "/api/v1/tda/compute/vietoris-rips"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    # The test machines run the suite as root; elsewhere this fails and says why.
    assert os.geteuid() == 0, "the disk-full tests mount a 2 MB tmpfs: run them as root"
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    assert mounted.returncode == 0, f"cannot mount a tmpfs: {mounted.stderr.decode().strip()}"
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(mount: Path, leave_bytes: int) -> Path:
    """Fill the disk up to ``leave_bytes`` free; return the filler to delete later."""
    filler = mount / "filler"
    free = os.statvfs(mount).f_bavail * os.statvfs(mount).f_frsize
    with contextlib.suppress(OSError), filler.open("ab") as f:
        f.write(b"\0" * max(0, free - leave_bytes))
    return filler


def _stored_blobs(settings: Settings) -> set[Path]:
    return {p for p in settings.blob_dir.rglob("*") if p.is_file() and "tmp" not in p.parts}


@pytest.fixture
def settings(small_disk: Path) -> Settings:
    return make_settings(small_disk, data_dir=small_disk / "var", job_workers=1)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


async def _upload(client: httpx.AsyncClient, array: np.ndarray) -> httpx.Response:
    return await client.post(
        UPLOAD, files={"file": ("d.npy", npy_bytes(array), "application/octet-stream")}
    )


async def test_full_data_dir_is_507_and_leaves_nothing(
    client: httpx.AsyncClient, settings: Settings, small_disk: Path
) -> None:
    before = await _upload(client, circle(16))
    assert before.status_code == 201, before.text
    blobs = _stored_blobs(settings)

    filler = _fill(small_disk, leave_bytes=16 * 1024)
    refused = await _upload(client, random_cloud(20_000, 2))  # 320 kB canonical .npy
    assert refused.status_code == 507, refused.text
    assert "DATA_DIR" in refused.json()["detail"]
    assert "storage full" in refused.json()["detail"]
    assert _stored_blobs(settings) == blobs
    assert list((settings.blob_dir / "tmp").iterdir()) == []

    # Earlier data still reads; after freeing space the same upload succeeds.
    data_id = before.json()["data_id"]
    assert (await client.get(f"/api/v1/data/{data_id}")).status_code == 200
    filler.unlink()
    again = await _upload(client, random_cloud(20_000, 2))
    assert again.status_code == 201, again.text


async def test_submission_on_a_full_disk_is_507_and_work_resumes_after(
    client: httpx.AsyncClient, small_disk: Path
) -> None:
    data = await _upload(client, random_cloud(60, 3, seed=3))
    assert data.status_code == 201
    data_id = data.json()["data_id"]
    filler = _fill(small_disk, leave_bytes=0)
    job = await client.post(RIPS, json={"data_id": data_id, "maxdim": 1})
    # SQLite cannot add the job's row: refused, so no job exists that could be lost.
    assert job.status_code == 507, job.text
    assert "storage full" in job.json()["detail"]
    filler.unlink()
    assert (await client.get("/api/v1/tda/jobs")).json()["total"] == 0
    after = await client.post(RIPS, json={"data_id": data_id, "maxdim": 1})
    assert after.status_code == 202, after.text
    done = await wait_for(client, after.json()["job_id"], within=30)
    assert done["status"] == "succeeded"


async def test_result_that_cannot_be_stored_fails_the_job_and_the_worker_goes_on(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk fills between acceptance and the result's write (simulated: the blob write
    raises ENOSPC, as the tmpfs does above)."""
    data_id = (await _upload(client, random_cloud(40, 2, seed=4))).json()["data_id"]
    real_write = FileBlobStore._write

    def full(self: FileBlobStore, path: Path, content: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(FileBlobStore, "_write", full)
    job = await client.post(RIPS, json={"data_id": data_id, "maxdim": 1})
    assert job.status_code == 202, job.text
    failed = await wait_for(client, job.json()["job_id"], within=30)
    assert failed["status"] == "failed"
    assert "storage full" in failed["error"]
    assert "DATA_DIR" in failed["error"]

    monkeypatch.setattr(FileBlobStore, "_write", real_write)
    again = await client.post(RIPS, json={"data_id": data_id, "maxdim": 1})
    done = await wait_for(client, again.json()["job_id"], within=30)
    assert done["status"] == "succeeded"
