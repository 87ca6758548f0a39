"""``/metrics``: Prometheus exposition."""

from __future__ import annotations

from fastapi import APIRouter, Response

from tda_backend.api.deps import ServicesDep
from tda_backend.services.telemetry import JOBS, QUEUE_DEPTH, get_logger, render_metrics

router = APIRouter(tags=["metrics"])
log = get_logger(__name__)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"description": "Prometheus text format", "content": {"text/plain": {}}}},
)
async def metrics(services: ServicesDep) -> Response:
    """Requests, latencies, jobs by status and algorithm, job durations, queue depth."""
    try:
        counts = await services.repo.job_counts()
    except Exception:
        log.warning("could not count jobs for /metrics", exc_info=True)
    else:
        JOBS.clear()
        for (algorithm, status), n in counts.items():
            JOBS.labels(algorithm, status).set(n)
        QUEUE_DEPTH.set(sum(n for (_, status), n in counts.items() if status == "queued"))
    body, content_type = render_metrics()
    return Response(body, media_type=content_type)
