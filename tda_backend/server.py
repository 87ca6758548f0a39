"""``tda-server``: the HTTP API under uvicorn.

Settings come from the environment or ``.env`` (``API_HOST``, ``API_PORT``, ``API_WORKERS``, ...);
command-line options override them. The schema is migrated before the first request. On the
embedded default jobs run on worker threads inside each server process; with ``REDIS_URL`` set the
server only enqueues them for ``tda-worker`` processes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn

from tda_backend.api import serving
from tda_backend.config import get_settings
from tda_backend.services import database
from tda_backend.services.telemetry import configure_logging, get_logger

log = get_logger("tda_backend.server")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tda-server", description="Run the tda-platform HTTP API (uvicorn)."
    )
    parser.add_argument("--host", help="interface to listen on (API_HOST)")
    parser.add_argument("--port", type=int, help="port to listen on (API_PORT)")
    parser.add_argument("--workers", type=int, help="server processes (API_WORKERS)")
    parser.add_argument(
        "--reload",
        action="store_true",
        help="restart when the code changes (development; one process)",
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    settings = get_settings()
    configure_logging(settings)
    settings.export_environment()
    host = args.host or settings.api_host
    port = settings.api_port if args.port is None else args.port
    workers = args.workers or settings.api_workers
    # Once here rather than racing in every worker process.
    if settings.embedded_database:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    database.upgrade(settings.resolved_database_url)
    log.info(
        "starting tda-server",
        host=host,
        port=port,
        workers=1 if args.reload else workers,
        reload=args.reload,
    )
    if workers > 1 and not args.reload:
        # Not uvicorn's supervisor: its workers share one socket and one of them accepts a
        # burst of connections alone; ours take turns by connection count (see
        # tda_backend.api.serving).
        serving.supervise(host, port, workers)
        return
    uvicorn.run(
        serving.APP,
        factory=True,
        host=host,
        port=port,
        reload=args.reload,
        reload_dirs=[str(Path(__file__).resolve().parent)] if args.reload else None,
        **serving.OPTIONS,
    )


if __name__ == "__main__":
    main()
