"""``python -m tda_backend.cli stream ...``: the streaming pipeline's administration.

stream init                 create the Kafka topics (idempotent)
stream deploy [options]     submit the Flink jobs to FLINK_REST_URL (idempotent; --replace)
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tda_backend.config import Settings


def add_stream_commands(commands: Any) -> None:
    stream = commands.add_parser("stream", help="Kafka topics and Flink jobs of the pipeline")
    actions = stream.add_subparsers(dest="stream_command", required=True)
    actions.add_parser("init", help="create the Kafka topics (idempotent)")
    deploy = actions.add_parser("deploy", help="submit the Flink jobs (idempotent)")
    deploy.add_argument("--window-size", type=int, help="default: STREAM_WINDOW_SIZE")
    deploy.add_argument("--window-slide", type=int, help="default: STREAM_WINDOW_SLIDE")
    deploy.add_argument("--maxdim", type=int, help="default: STREAM_MAXDIM")
    deploy.add_argument(
        "--mode",
        choices=["points", "delay"],
        default="points",
        help="points: events carry points; delay: scalar samples, delay-embedded",
    )
    deploy.add_argument("--embedding-dimension", type=int, default=3)
    deploy.add_argument("--embedding-lag", type=int, default=1)
    deploy.add_argument("--checkpoint-interval-ms", type=int, default=2000)
    deploy.add_argument(
        "--bundle-time-ms",
        type=int,
        default=50,
        help="process mode: longest time the Python workers hold elements before handing their "
        "results back (longer: less CPU per event, up to that much more window latency)",
    )
    deploy.add_argument(
        "--execution-mode",
        choices=["thread", "process"],
        default="thread",
        help="where the window job's Python runs: thread, in the TaskManager's JVM (no bundles, "
        "least CPU and latency); process, in Python worker processes",
    )
    deploy.add_argument(
        "--exactly-once",
        action="store_true",
        help="transactional sink (results visible to read_committed consumers "
        "at each checkpoint) instead of at-least-once",
    )
    deploy.add_argument(
        "--jar",
        action="append",
        default=[],
        help="Kafka connector jar (default: resolved by infra/flink/pom.xml)",
    )
    deploy.add_argument(
        "--replace",
        action="store_true",
        help="cancel running jobs of the same names and submit new ones",
    )
    deploy.add_argument("--only", choices=["windows", "validation"], help="submit only this job")


def run_stream_command(args: argparse.Namespace, settings: Settings) -> int:
    if settings.kafka_bootstrap_servers is None:
        print('KAFKA_BOOTSTRAP_SERVERS is not set (eval "$(tda-stack env)")', file=sys.stderr)
        return 2
    if args.stream_command == "init":
        from tda_backend.kafka.topics import ensure_topics

        outcome = ensure_topics(
            settings.kafka_bootstrap_servers, prefix=settings.kafka_topic_prefix
        )
        for topic, state in outcome.items():
            print(f"{topic}: {state}")
        return 0
    from tda_backend.flink.deploy import deploy, job_options
    from tda_backend.flink.jobs import VALIDATION_JOB, WINDOW_JOB
    from tda_backend.flink.windows import WindowSpec

    if settings.flink_rest_url is None:
        print('FLINK_REST_URL is not set (eval "$(tda-stack env)")', file=sys.stderr)
        return 2
    try:
        spec = WindowSpec(
            size=args.window_size or settings.stream_window_size,
            slide=args.window_slide or settings.stream_window_slide,
            maxdim=settings.stream_maxdim if args.maxdim is None else args.maxdim,
            mode=args.mode,
            embedding_dimension=args.embedding_dimension,
            embedding_lag=args.embedding_lag,
        )
    except ValueError as exc:
        print(f"stream deploy: {exc}", file=sys.stderr)
        return 2
    jars = args.jar
    if not jars:
        from tda_backend.stack.base import StackContext
        from tda_backend.stack.flink import connector_jars

        jars = connector_jars(StackContext.from_environment())
    options = job_options(
        settings,
        spec,
        jars,
        checkpoint_interval_ms=args.checkpoint_interval_ms,
        bundle_time_ms=args.bundle_time_ms,
        exactly_once=args.exactly_once,
        execution_mode=args.execution_mode,
    )
    which = {"windows": (WINDOW_JOB,), "validation": (VALIDATION_JOB,)}.get(
        args.only or "", (WINDOW_JOB, VALIDATION_JOB)
    )
    jobs = deploy(settings, options, replace_running=args.replace, which=which)
    print(json.dumps({"jobs": jobs, "window": spec.__dict__}, indent=2))
    return 0
