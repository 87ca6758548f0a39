"""Logs and metrics.

Logs: one JSON object per line (structlog), also for uvicorn's and other libraries' stdlib records.
Context bound with ``structlog.contextvars`` (the request's ``request_id``, a job's ``job_id``)
appears in every line logged under it, so a job's lines carry the id of the request that made it.

Metrics: Prometheus. With ``PROMETHEUS_MULTIPROC_DIR`` set (several server or worker processes) the
values live in files there and ``/metrics`` aggregates them.
"""

from __future__ import annotations

import logging
import os
import sys

import structlog
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from tda_backend.config import Settings

_configured: tuple[str, str] | None = None
# Decided when prometheus_client was imported, from the same variable.
_MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def configure_logging(settings: Settings) -> None:
    """Route structlog and stdlib logging to stderr as JSON (or readable lines for development)."""
    global _configured
    if _configured == (settings.log_level, settings.log_format):
        return
    _configured = (settings.log_level, settings.log_format)
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if settings.log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        # A record below LOG_LEVEL is dropped first, before the processors spend time on it.
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(settings.log_level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
    # The middleware logs each request with its id; uvicorn's own access line would repeat it.
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger


HTTP_REQUESTS = Counter(
    "tda_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "tda_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
JOBS_SUBMITTED = Counter("tda_jobs_submitted_total", "Jobs accepted", ["algorithm", "reused"])
JOBS_FINISHED = Counter(
    "tda_jobs_finished_total", "Jobs that reached a final status", ["algorithm", "status"]
)
JOB_DURATION = Histogram(
    "tda_job_duration_seconds",
    "Time from a job's start to its end",
    ["algorithm", "status"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 14400),
)
JOBS = Gauge(
    "tda_jobs",
    "Jobs in the database by status and algorithm",
    ["algorithm", "status"],
    multiprocess_mode="mostrecent",
)
QUEUE_DEPTH = Gauge(
    "tda_job_queue_depth", "Jobs queued and not yet started", multiprocess_mode="mostrecent"
)


def render_metrics() -> tuple[bytes, str]:
    if _MULTIPROCESS:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
