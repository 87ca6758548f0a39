"""``python -m tda_backend.cli stream deploy``: submit the jobs to the Flink cluster at
``FLINK_REST_URL``, unless a job of the same name is already running there (``--replace``
cancels it first, taking no savepoint: the new job resumes from the consumer group's committed
offsets, with empty window state).
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from tda_backend.config import Settings
from tda_backend.flink.jobs import (
    VALIDATION_JOB,
    WINDOW_JOB,
    JobOptions,
    build_validation_job,
    build_window_job,
)
from tda_backend.flink.windows import WindowSpec
from tda_backend.kafka.topics import (
    VALIDATION_JOB_GROUP,
    WINDOW_JOB_GROUP,
    TopicNames,
    ensure_topics,
)

ACTIVE = {"CREATED", "INITIALIZING", "RUNNING", "RESTARTING", "RECONCILING"}


def job_options(
    settings: Settings, spec: WindowSpec, jars: list[str], **extra: object
) -> JobOptions:
    if settings.kafka_bootstrap_servers is None:
        raise RuntimeError("KAFKA_BOOTSTRAP_SERVERS is not set (tda-stack env prints it)")
    topics = TopicNames.with_prefix(settings.kafka_topic_prefix)
    options = JobOptions(
        bootstrap=settings.kafka_bootstrap_servers,
        raw_topic=topics.raw_events,
        results_topic=topics.feature_results,
        window_group=WINDOW_JOB_GROUP,
        validation_group=VALIDATION_JOB_GROUP,
        spec=spec,
        parallelism=settings.flink_parallelism,
        jars=[Path(j).resolve().as_uri() for j in jars],
    )
    return replace(options, **extra)  # type: ignore[arg-type]


def active_jobs(flink_url: str) -> dict[str, str]:
    """``{job name: job id}`` of the jobs that are running (or about to) on the cluster."""
    response = httpx.get(flink_url.rstrip("/") + "/jobs/overview", timeout=10)
    response.raise_for_status()
    return {j["name"]: j["jid"] for j in response.json()["jobs"] if j["state"] in ACTIVE}


def cancel(flink_url: str, job_id: str, timeout: float = 60.0) -> None:
    base = flink_url.rstrip("/")
    httpx.patch(f"{base}/jobs/{job_id}", params={"mode": "cancel"}, timeout=10).raise_for_status()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = httpx.get(f"{base}/jobs/{job_id}", timeout=10).json().get("state")
        if state not in ACTIVE and state != "CANCELLING":
            return
        time.sleep(0.5)
    raise RuntimeError(f"Flink job {job_id} did not stop within {timeout:.0f} s")


def deploy(
    settings: Settings,
    options: JobOptions,
    *,
    replace_running: bool = False,
    which: tuple[str, ...] = (WINDOW_JOB, VALIDATION_JOB),
) -> dict[str, str]:
    """Submit the jobs; returns ``{job name: job id}`` (existing ones included)."""
    if settings.flink_rest_url is None:
        raise RuntimeError("FLINK_REST_URL is not set (tda-stack env prints it)")
    ensure_topics(options.bootstrap, prefix=settings.kafka_topic_prefix)
    url = urlsplit(settings.flink_rest_url)
    # PyFlink's client JVM (started on first use, in this process) submits to the cluster when
    # launched with these arguments; a Configuration passed to the environment is too late for it.
    os.environ["SUBMIT_ARGS"] = f"remote -m {url.hostname or '127.0.0.1'}:{url.port or 8081}"
    running = active_jobs(settings.flink_rest_url)
    submitted: dict[str, str] = {}
    builders = {WINDOW_JOB: build_window_job, VALIDATION_JOB: build_validation_job}
    for name in which:
        if name in running:
            if not replace_running:
                submitted[name] = running[name]
                continue
            cancel(settings.flink_rest_url, running[name])
        env = builders[name](options)
        client = env.execute_async(name)
        submitted[name] = str(client.get_job_id())
    return submitted
