"""``tda-worker``: a process that only computes jobs.

On the embedded default every ``tda-server`` process already computes jobs on its own threads, so
a worker is optional: started beside the server (same ``DATA_DIR`` / ``DATABASE_URL``) it takes
queued jobs from the same database. With ``JOB_WORKERS=0`` on the server, workers do all the
computing. In production mode (``REDIS_URL`` set) servers only enqueue and workers, on any host
that reaches the database and Redis, take the jobs from the Redis queue.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from tda_backend.config import get_settings
from tda_backend.services import database
from tda_backend.services.container import Services
from tda_backend.services.telemetry import configure_logging, get_logger

log = get_logger("tda_backend.worker")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tda-worker", description="Compute queued tda-platform jobs until stopped."
    )
    parser.add_argument(
        "--concurrency", type=int, help="jobs computed at once (default: JOB_WORKERS)"
    )
    return parser


async def _serve(concurrency: int | None) -> None:
    settings = get_settings()
    if concurrency is not None:
        settings = settings.model_copy(update={"job_workers": max(concurrency, 1)})
    elif settings.job_workers == 0:
        settings = settings.model_copy(update={"job_workers": 1})
    if not settings.embedded_database:
        # The embedded database is migrated by Services.start; a shared one before any worker uses
        # it (an advisory lock serializes the processes starting together).
        await database.upgrade_async(settings.resolved_database_url)
    services = await Services.start(settings, role="worker")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info(
        "tda-worker ready",
        concurrency=settings.job_workers,
        queue="redis" if settings.redis_url is not None else "database",
    )
    await stop.wait()
    log.info("tda-worker stopping; running jobs go back to the queue")
    await services.stop()


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    settings = get_settings()
    configure_logging(settings)
    settings.export_environment()
    asyncio.run(_serve(args.concurrency))


if __name__ == "__main__":
    main()
