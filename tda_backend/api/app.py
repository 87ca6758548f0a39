"""The application factory: ``create_app(settings)`` builds the FastAPI app around the services."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.openapi.utils import get_openapi

from tda_backend import __version__
from tda_backend.api.access import ApiKeyGate, KeyResolver
from tda_backend.api.deps import enforce_rate_limit, get_owner
from tda_backend.api.errors import install_error_handlers
from tda_backend.api.limits import make_limiter
from tda_backend.api.middleware import RequestContextMiddleware, RouteTemplates
from tda_backend.api.routes import data, health, jobs, metrics, results, stream
from tda_backend.config import Settings, get_settings
from tda_backend.models.common import ErrorOut
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


def _route_methods(app: FastAPI) -> dict[str, set[str]]:
    routes = {
        path: {method.upper() for method in item} for path, item in app.openapi()["paths"].items()
    }
    routes.update({"/docs": {"GET"}, "/redoc": {"GET"}, "/openapi.json": {"GET"}})
    return routes


def _openapi_document(app: FastAPI, settings: Settings) -> dict[str, Any]:
    """The OpenAPI document of this server: API-key security is described only when it is on."""
    if app.openapi_schema is None:
        document = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        if not (settings.api_key_set or settings.api_keys_db):
            document.get("components", {}).pop("securitySchemes", None)
            for item in document["paths"].values():
                for operation in item.values():
                    operation.pop("security", None)
                    operation.get("responses", {}).pop("401", None)
        app.openapi_schema = document
    return app.openapi_schema


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = await Services.start(settings)
        app.state.services = services
        app.state.limiter = make_limiter(settings)
        # What start-up built (modules, routes, models, the pools) lives as long as the process:
        # out of the collector's sight, a full collection no longer walks it (about 140,000
        # objects, some 80 ms here: a pause every request in flight in this process waits out).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if app.state.limiter is not None:
                await app.state.limiter.close()
            await services.stop()

    app = FastAPI(
        title="tda-platform",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.openapi = lambda: _openapi_document(app, settings)  # type: ignore[method-assign]
    install_error_handlers(app)
    # Added first, so it runs inside the request context (request id, access log, metrics).
    app.state.access = KeyResolver(settings)
    app.add_middleware(ApiKeyGate, resolver=app.state.access, prefix=API_PREFIX)
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_upload_bytes + _BODY_OVERHEAD_BYTES,
        route_of=RouteTemplates(lambda: _route_methods(app)),
    )
    # Every /api/v1 route, whether or not it uses the owner, needs the key and counts against
    # the caller's rate, where RATE_LIMIT_PER_MINUTE sets one (without, the dependency would only
    # cost every request its resolution).
    api_dependencies = [Depends(get_owner)]
    if settings.rate_limit_per_minute:
        api_dependencies.append(Depends(enforce_rate_limit))
    api = APIRouter(
        prefix=API_PREFIX,
        dependencies=api_dependencies,
        responses={
            401: {
                "model": ErrorOut,
                "description": "API_KEYS is set and X-API-Key is missing or unknown",
            },
            429: {
                "model": ErrorOut,
                "description": "Over RATE_LIMIT_PER_MINUTE or MAX_JOBS_PER_KEY; see Retry-After",
                "headers": {
                    "Retry-After": {
                        "description": "seconds to wait",
                        "schema": {"type": "integer"},
                    }
                },
            },
        },
    )
    for module in (data, jobs, results, stream):
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(health.router)
    app.include_router(
        metrics.router,
        dependencies=[Depends(get_owner)] if settings.metrics_require_key else [],
        responses=(
            {401: {"model": ErrorOut, "description": "X-API-Key is missing or unknown"}}
            if settings.metrics_require_key
            else {}
        ),
    )
    return app
