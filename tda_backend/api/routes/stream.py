"""``/stream``: publishing events for windowed computation (answered 503 until configured)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from tda_backend.models.common import ErrorOut
from tda_backend.models.stream import PublishRequest

router = APIRouter(prefix="/stream", tags=["stream"])

_NOT_CONFIGURED = (
    "streaming is not configured: this server has no Kafka/Flink pipeline"
    " (KAFKA_BOOTSTRAP_SERVERS, FLINK_REST_URL)"
)
_RESPONSES: dict[int | str, dict[str, object]] = {
    503: {"model": ErrorOut, "description": "Streaming is not configured"},
}


@router.post("/publish", status_code=202, responses=_RESPONSES)
async def publish(body: PublishRequest) -> None:
    """Publish events ``{"stream_id", "point", "timestamp"?}`` to the raw-data topic."""
    raise HTTPException(503, _NOT_CONFIGURED)


@router.get("/status", responses=_RESPONSES)
async def status() -> None:
    """The streaming pipeline's state."""
    raise HTTPException(503, _NOT_CONFIGURED)
