"""The one settings object: every knob of the service, read from the environment or a ``.env`` file.

Unset means the embedded default: SQLite and blob files under ``DATA_DIR``, in-process workers, an
in-memory cache, streaming reported as not configured. ``.env.example`` lists every setting.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    # HTTP server
    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, ge=0, le=65535)
    api_workers: int = Field(1, ge=1, description="uvicorn worker processes")

    # Storage
    data_dir: Path = Path("./var")
    database_url: str | None = Field(
        None, description="SQLAlchemy async URL; unset = SQLite file under DATA_DIR"
    )
    redis_url: str | None = Field(
        None, description="redis://...; set = Redis result cache and job queue for tda-worker"
    )
    redis_prefix: str = Field(
        "tda:", description="prefix of this deployment's Redis keys (queue, cache, locks)"
    )
    blob_store: Literal["auto", "files", "database"] = Field(
        "auto",
        description="auto = files under DATA_DIR on the embedded SQLite, the database otherwise",
    )
    database_pool_size: int = Field(10, ge=1, description="connections kept open per process")
    database_max_overflow: int = Field(10, ge=0, description="extra connections under load")

    # Streaming (filled in by the streaming issue)
    kafka_bootstrap_servers: str | None = None
    kafka_topic_prefix: str = "tda_"
    flink_rest_url: str | None = None
    flink_parallelism: int = Field(1, ge=1)
    stream_window_size: int = Field(100, ge=2)
    stream_window_slide: int = Field(10, ge=1)
    stream_maxdim: int = Field(1, ge=0)

    # Observability
    prometheus_multiproc_dir: Path | None = None
    log_level: LogLevel = "INFO"
    log_format: Literal["json", "console"] = "json"

    # Limits
    max_upload_mb: float = Field(100.0, gt=0)
    max_points: int = Field(100_000, ge=1, description="rows of a point cloud or distance matrix")
    max_dimensions: int = Field(1_000, ge=1, description="columns of a point cloud")
    max_job_memory_mb: float = Field(4096.0, gt=0)
    job_time_limit_s: float = Field(3600.0, gt=0)

    # Jobs
    job_workers: int = Field(
        2, ge=0, description="jobs computed at once by this process; 0 = leave them to tda-worker"
    )
    job_scheduling: Literal["normal", "idle"] = Field(
        "normal",
        description="how the threads computing jobs are scheduled; idle = Linux SCHED_IDLE: they"
        " get only the CPU time nothing else wants",
    )
    job_max_attempts: int = Field(3, ge=1, description="starts of a job before it is failed")
    job_lease_s: float = Field(
        15.0, gt=0, description="a running job whose heartbeat is older than this is recovered"
    )
    cache_max_items: int = Field(256, ge=0, description="results kept in the in-memory cache")
    cache_ttl_s: float = Field(3600.0, gt=0, description="how long Redis keeps a cached result")
    queue_sweep_s: float = Field(
        2.0,
        gt=0,
        description="with Redis: how often queued jobs are sent again and dead workers' jobs"
        " recovered",
    )

    # Access
    api_keys: str | None = Field(None, description="comma-separated; unset = open access")
    api_keys_db: bool = Field(
        False, description="also accept keys made with `python -m tda_backend.cli keys create`"
    )
    metrics_require_key: bool = Field(
        False, description="/metrics also needs X-API-Key (when API_KEYS is set)"
    )
    rate_limit_per_minute: int = Field(
        0, ge=0, description="/api/v1 requests per key (per client address when open); 0 = off"
    )
    max_jobs_per_key: int = Field(
        0, ge=0, description="queued + running jobs one API key may have at once; 0 = no cap"
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator(
        "database_url",
        "redis_url",
        "kafka_bootstrap_servers",
        "flink_rest_url",
        "prometheus_multiproc_dir",
        "api_keys",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("job_scheduling")
    @classmethod
    def _schedulable(cls, value: str) -> str:
        if value == "idle" and not hasattr(os, "SCHED_IDLE"):
            raise ValueError("idle needs Linux's SCHED_IDLE, which this system lacks")
        return value

    @property
    def embedded_database(self) -> bool:
        return self.database_url is None

    @property
    def resolved_database_url(self) -> str:
        if self.database_url is not None:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'tda.db').resolve()}"

    @property
    def blobs_in_database(self) -> bool:
        if self.blob_store == "auto":
            return not self.embedded_database
        return self.blob_store == "database"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def api_key_set(self) -> frozenset[str]:
        if self.api_keys is None:
            return frozenset()
        return frozenset(k.strip() for k in self.api_keys.split(",") if k.strip())

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    def export_environment(self) -> None:
        """Put the settings that child processes read themselves into ``os.environ``."""
        if self.prometheus_multiproc_dir is not None:
            self.prometheus_multiproc_dir.mkdir(parents=True, exist_ok=True)
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(self.prometheus_multiproc_dir.resolve())


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
