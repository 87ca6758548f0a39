"""Publishing a finished job's features to ``<prefix>tda_feature_results``, keyed by job id.

The job runner calls :func:`publish_job_features` once a job has succeeded. It does nothing when
streaming is not configured, and never raises: the job's result is already stored in the database,
which stays the record; Kafka receives a copy for stream consumers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tda_backend.config import Settings
from tda_backend.kafka.producer import BrokerUnavailableError, OutgoingMessage, now_ms
from tda_backend.kafka.topics import TopicNames
from tda_backend.services.telemetry import get_logger

log = get_logger(__name__)


def job_features_message(
    job_id: str, diagrams: Sequence[Any], *, summary: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The message body: ``kind``, ``job_id``, ``diagrams`` (``null`` deaths), ``betti`` and the
    scalar features the windowed stream job also emits."""
    from tda_backend.flink.features import diagram_features, diagrams_to_json

    arrays = [np.asarray(d, dtype=np.float64).reshape(-1, 2) for d in diagrams]
    return {
        "kind": "job",
        "job_id": job_id,
        "diagrams": diagrams_to_json(arrays),
        **diagram_features(arrays),
        "summary": dict(summary or {}),
        "published_ms": now_ms(),
    }


def publish_job_features(
    settings: Settings,
    job_id: str,
    diagrams: Sequence[Any],
    *,
    summary: Mapping[str, Any] | None = None,
) -> bool:
    """Blocking; call it from a worker thread. True if the broker acknowledged the message."""
    if settings.kafka_bootstrap_servers is None:
        return False
    from tda_backend.kafka.producer import shared_publisher

    topic = TopicNames.with_prefix(settings.kafka_topic_prefix).feature_results
    body = job_features_message(job_id, diagrams, summary=summary)
    message = OutgoingMessage(
        key=job_id.encode(), value=json.dumps(body, default=_jsonable).encode()
    )
    try:
        shared_publisher(settings.kafka_bootstrap_servers).publish_blocking(topic, [message])
    except BrokerUnavailableError as exc:
        log.warning("job features not published", job_id=job_id, error=str(exc))
        return False
    return True


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
