"""The pipeline's topics, ``<prefix>raw_data_events`` and ``<prefix>tda_feature_results``.

Created idempotently: by ``tda-stack up kafka``, by ``python -m tda_backend.cli stream init`` and by
``stream deploy``. Partitions, replication and retention come from ``KAFKA_TOPIC_PARTITIONS``,
``KAFKA_TOPIC_REPLICATION`` and ``KAFKA_TOPIC_RETENTION_MS``; an existing topic is left as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tda_backend.config import get_settings

RAW_EVENTS = "raw_data_events"
FEATURE_RESULTS = "tda_feature_results"
# The consumer groups of the Flink jobs: their lag is what /stream/status reports.
WINDOW_JOB_GROUP = "tda-flink-windows"
VALIDATION_JOB_GROUP = "tda-flink-validation"


class TopicSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KAFKA_TOPIC_", env_file=".env", extra="ignore")

    partitions: int = Field(2, ge=1)
    replication: int = Field(1, ge=1)
    retention_ms: int = Field(7 * 24 * 3600 * 1000, ge=-1, description="-1 = keep forever")


@dataclass(frozen=True)
class TopicNames:
    raw_events: str
    feature_results: str

    @classmethod
    def with_prefix(cls, prefix: str | None = None) -> TopicNames:
        if prefix is None:
            prefix = get_settings().kafka_topic_prefix
        return cls(raw_events=prefix + RAW_EVENTS, feature_results=prefix + FEATURE_RESULTS)

    def all(self) -> tuple[str, str]:
        return (self.raw_events, self.feature_results)


def ensure_topics(
    bootstrap: str,
    *,
    prefix: str | None = None,
    settings: TopicSettings | None = None,
    timeout: float = 30.0,
) -> dict[str, str]:
    """Create the missing topics; returns ``{topic: "created" | "exists"}``."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

    settings = settings or TopicSettings()
    names = TopicNames.with_prefix(prefix).all()
    admin = AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": 10_000})
    existing = admin.list_topics(timeout=timeout).topics
    outcome = {name: "exists" for name in names if name in existing}
    missing = [name for name in names if name not in existing]
    if missing:
        config = {"retention.ms": str(settings.retention_ms)}
        futures = admin.create_topics(
            [
                NewTopic(
                    name,
                    num_partitions=settings.partitions,
                    replication_factor=settings.replication,
                    config=config,
                )
                for name in missing
            ],
            request_timeout=timeout,
        )
        for name, future in futures.items():
            try:
                future.result()
                outcome[name] = "created"
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise
                outcome[name] = "exists"
    return outcome
