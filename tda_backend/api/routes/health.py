"""``/health``: each dependency ok, degraded or disabled. 503 when anything is degraded."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from tda_backend import __version__, core
from tda_backend.api.deps import ServicesDep
from tda_backend.kafka.status import flink_jobs
from tda_backend.models.health import CheckOut, HealthOut
from tda_backend.services import database

router = APIRouter(tags=["health"])

CHECK_TIMEOUT_S = 3.0


async def _database(services: ServicesDep) -> CheckOut:
    backend = services.engine.dialect.name
    try:
        await asyncio.wait_for(database.ping(services.engine), CHECK_TIMEOUT_S)
    except Exception as exc:
        return CheckOut(
            status="degraded", detail=f"{type(exc).__name__}: {exc}", info={"backend": backend}
        )
    return CheckOut(status="ok", info={"backend": backend})


async def _blob_store(services: ServicesDep) -> CheckOut:
    try:
        await asyncio.wait_for(asyncio.to_thread(services.blobs.check), CHECK_TIMEOUT_S)
    except Exception as exc:
        return CheckOut(status="degraded", detail=f"{type(exc).__name__}: {exc}")
    return CheckOut(status="ok", info={"backend": services.blobs.name})


async def _redis(services: ServicesDep) -> CheckOut:
    if services.redis is None:
        return CheckOut(status="disabled", detail="REDIS_URL is not set")
    info: dict[str, Any] = {"queue": f"{services.settings.redis_prefix}queue"}
    try:
        await asyncio.wait_for(services.redis.ping(), CHECK_TIMEOUT_S)
        info["queued"] = await asyncio.wait_for(
            services.redis.zcard(info["queue"]), CHECK_TIMEOUT_S
        )
    except Exception as exc:
        return CheckOut(status="degraded", detail=f"{type(exc).__name__}: {exc}", info=info)
    return CheckOut(status="ok", info=info)


def _kafka_check(bootstrap: str) -> CheckOut:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(
        {"bootstrap.servers": bootstrap, "socket.timeout.ms": int(CHECK_TIMEOUT_S * 1000)}
    )
    metadata = admin.list_topics(timeout=CHECK_TIMEOUT_S)
    return CheckOut(
        status="ok",
        info={
            "bootstrap_servers": bootstrap,
            "brokers": len(metadata.brokers),
            "topics": len(metadata.topics),
        },
    )


def _flink_check(url: str) -> CheckOut:
    jobs = flink_jobs(url, CHECK_TIMEOUT_S)
    running = sum(1 for job in jobs if job.state == "RUNNING")
    return CheckOut(status="ok", info={"rest_url": url, "jobs": len(jobs), "running": running})


async def _streaming(
    setting: str | None, variable: str, check: Callable[[str], CheckOut]
) -> CheckOut:
    if setting is None:
        return CheckOut(status="disabled", detail=f"{variable} is not set")
    try:
        return await asyncio.wait_for(asyncio.to_thread(check, setting), CHECK_TIMEOUT_S + 1)
    except Exception as exc:
        return CheckOut(status="degraded", detail=f"{setting}: {type(exc).__name__}: {exc}")


@router.get(
    "/health",
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "Degraded"}},
)
async def health(services: ServicesDep) -> HealthOut | JSONResponse:
    """Liveness and the state of each dependency."""
    settings = services.settings
    checks = {
        "database": await _database(services),
        "blob_store": await _blob_store(services),
        "engine": CheckOut(status="ok", info={"version": core.ENGINE_VERSION}),
        "workers": CheckOut(status="ok", info=services.runner.describe()),
        "cache": CheckOut(status="ok", info={"backend": services.cache.name}),
        "redis": await _redis(services),
        "kafka": await _streaming(
            settings.kafka_bootstrap_servers, "KAFKA_BOOTSTRAP_SERVERS", _kafka_check
        ),
        "flink": await _streaming(settings.flink_rest_url, "FLINK_REST_URL", _flink_check),
    }
    degraded = any(c.status == "degraded" for c in checks.values())
    body = HealthOut(
        status="degraded" if degraded else "ok",
        version=__version__,
        engine_version=core.ENGINE_VERSION,
        checks=checks,
    )
    if degraded:
        return JSONResponse(body.model_dump(mode="json"), status_code=503)
    return body
