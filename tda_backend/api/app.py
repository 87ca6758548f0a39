"""The application factory: ``create_app(settings)`` builds the FastAPI app around the services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from tda_backend import __version__
from tda_backend.api.errors import install_error_handlers
from tda_backend.api.middleware import RequestContextMiddleware, RouteTemplates
from tda_backend.api.routes import data, health, jobs, metrics, results, stream
from tda_backend.config import Settings, get_settings
from tda_backend.services.container import Services
from tda_backend.services.telemetry import configure_logging

API_PREFIX = "/api/v1"
# Room for multipart boundaries and form fields around a file of the maximum size.
_BODY_OVERHEAD_BYTES = 64 * 1024

DESCRIPTION = """
Persistent homology as a service. Upload a point cloud or a distance matrix, start a
Vietoris-Rips or alpha-complex computation, follow the job, and read its diagrams as JSON, CSV,
NPZ or SVG pictures.

1. `POST /api/v1/data/upload` (multipart field `file`: CSV/TSV, .npy, JSON) → `data_id`
2. `POST /api/v1/tda/compute/vietoris-rips` `{"data_id": ..., "maxdim": 1}` → 202 `job_id`
3. `GET /api/v1/tda/jobs/{job_id}` until `status` is `succeeded`
4. `GET /api/v1/tda/results/{job_id}` (also `/csv`, `/npz`, `/diagram.svg`, `/barcode.svg`)
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = await Services.start(settings)
        app.state.services = services
        try:
            yield
        finally:
            await services.stop()

    app = FastAPI(
        title="tda-platform", version=__version__, description=DESCRIPTION, lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_upload_bytes + _BODY_OVERHEAD_BYTES,
        route_of=RouteTemplates(lambda: [*app.openapi()["paths"], "/docs", "/redoc"]),
    )
    api = APIRouter(prefix=API_PREFIX)
    for module in (data, jobs, results, stream):
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(health.router)
    app.include_router(metrics.router)
    return app
