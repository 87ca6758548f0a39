"""Helpers shared by the API tests: building data, uploading, submitting, waiting."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from fastapi import FastAPI

from tda_backend.api.app import create_app
from tda_backend.config import Settings
from tda_backend.services.container import Services

TERMINAL = {"succeeded", "failed", "cancelled"}

# Settings of the backend the current test runs on (conftest's `backend` fixture fills it): empty
# for the embedded default; PostgreSQL and Redis URLs for the production mode.
BACKEND_SETTINGS: dict[str, Any] = {}


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "var",
        "database_url": None,
        "job_workers": 2,
        "log_level": "WARNING",
        "api_keys": None,
        "redis_url": None,
        "kafka_bootstrap_servers": None,
        "flink_rest_url": None,
    }
    values.update(BACKEND_SETTINGS)
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[FastAPI]:
    """The app with its lifespan run. In production mode a worker (``tda-worker``'s services, in
    this process) computes the jobs the app puts on the Redis queue, on ``JOB_WORKERS`` threads."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        if settings.redis_url is None or settings.job_workers == 0:
            yield application
            return
        worker = await Services.start(settings, role="worker")
        try:
            yield application
        finally:
            await worker.stop()


async def stored_blobs(app: FastAPI) -> int:
    """How many blobs the app's store holds, whichever store it is."""
    services: Services = app.state.services
    if services.blobs.name == "files":
        root = services.settings.blob_dir
        return sum(
            1 for p in root.rglob("*") if p.is_file() and p.relative_to(root).parts[0] != "tmp"
        )
    from sqlalchemy import func, select

    from tda_backend.models.tables import Blob

    async with services.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Blob)) or 0)


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def circle(n: int = 24, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
    points = np.column_stack([np.cos(angles), np.sin(angles)])
    return points + noise * rng.standard_normal(points.shape)


def random_cloud(n: int, d: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d))


async def upload_array(
    client: httpx.AsyncClient, array: np.ndarray, kind: str = "point_cloud"
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/data/upload",
        files={"file": ("data.npy", npy_bytes(array), "application/octet-stream")},
        data={"kind": kind},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def submit(client: httpx.AsyncClient, algorithm: str, **params: Any) -> dict[str, Any]:
    response = await client.post(f"/api/v1/tda/compute/{algorithm}", json=params)
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


async def wait_for(
    client: httpx.AsyncClient,
    job_id: str,
    *,
    within: float = 60.0,
    until: Callable[[dict[str, Any]], bool] = lambda job: job["status"] in TERMINAL,
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        response = await client.get(f"/api/v1/tda/jobs/{job_id}")
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        if until(job):
            return job
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"job {job_id} still {job['status']} after {within} s: {job}")
        await asyncio.sleep(0.05)


def detail_text(response: httpx.Response) -> str:
    """The error message(s) of a 4xx answer as one string."""
    detail = response.json()["detail"]
    if isinstance(detail, list):
        return " | ".join(
            ".".join(str(p) for p in item.get("loc", [])) + ": " + str(item.get("msg"))
            for item in detail
        )
    return str(detail)
