"""``/health``: each dependency ok, degraded or disabled. 503 when anything is degraded."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from tda_backend import __version__, core
from tda_backend.api.deps import ServicesDep
from tda_backend.models.health import CheckOut, HealthOut
from tda_backend.services import database

router = APIRouter(tags=["health"])

CHECK_TIMEOUT_S = 3.0


async def _database(services: ServicesDep) -> CheckOut:
    backend = services.engine.dialect.name
    try:
        await asyncio.wait_for(database.ping(services.engine), CHECK_TIMEOUT_S)
    except Exception as exc:
        return CheckOut(status="degraded", detail=f"{type(exc).__name__}: {exc}",
                        info={"backend": backend})
    return CheckOut(status="ok", info={"backend": backend})


async def _blob_store(services: ServicesDep) -> CheckOut:
    try:
        await asyncio.wait_for(asyncio.to_thread(services.blobs.check), CHECK_TIMEOUT_S)
    except Exception as exc:
        return CheckOut(status="degraded", detail=f"{type(exc).__name__}: {exc}")
    return CheckOut(status="ok", info={"backend": "files"})


def _not_served(name: str, setting: str | None, variable: str) -> CheckOut:
    if setting is None:
        return CheckOut(status="disabled", detail=f"{variable} is not set")
    return CheckOut(status="degraded", detail=f"{variable} is set but this server does not use"
                                              f" {name} yet")


@router.get("/health", response_model=HealthOut,
            responses={503: {"model": HealthOut, "description": "Degraded"}})
async def health(services: ServicesDep) -> HealthOut | JSONResponse:
    """Liveness and the state of each dependency."""
    settings = services.settings
    checks = {
        "database": await _database(services),
        "blob_store": await _blob_store(services),
        "engine": CheckOut(status="ok", info={"version": core.ENGINE_VERSION}),
        "workers": CheckOut(status="ok", info=services.runner.describe()),
        "cache": CheckOut(status="ok", info={"backend": services.cache.name}),
        "redis": _not_served("Redis", settings.redis_url, "REDIS_URL"),
        "kafka": _not_served("Kafka", settings.kafka_bootstrap_servers, "KAFKA_BOOTSTRAP_SERVERS"),
        "flink": _not_served("Flink", settings.flink_rest_url, "FLINK_REST_URL"),
    }
    degraded = any(c.status == "degraded" for c in checks.values())
    body = HealthOut(status="degraded" if degraded else "ok", version=__version__,
                     engine_version=core.ENGINE_VERSION, checks=checks)
    if degraded:
        return JSONResponse(body.model_dump(mode="json"), status_code=503)
    return body
