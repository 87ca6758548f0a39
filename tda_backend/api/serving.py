"""Several uvicorn worker processes, each accepting on a listening socket of its own.

uvicorn's own supervisor shares one listening socket between its workers. Whichever worker wakes
first accepts every connection waiting (uvloop accepts until the queue is empty), so a burst of
clients connecting at once, as a pool of keep-alive connections does, lands on one process and
the others stay idle: with 16 clients and ``API_WORKERS=2``, one process did all the work on one
core. Here every worker has its own socket bound to the same address with ``SO_REUSEPORT``, and
the kernel hands each new connection to one of them by a hash of its addresses.

The supervisor binds the sockets (so a port in use fails at once, in the parent), starts one
process per socket, starts a worker again on its socket when it dies, stops when a worker fails
during its start-up (uvicorn's exit code 3: every restart would fail the same way), and passes
SIGTERM or SIGINT on to the workers, which finish their requests before they exit.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import signal
import socket
import sys
import threading
from multiprocessing.process import BaseProcess
from typing import TypedDict

import uvicorn

from tda_backend.services.telemetry import get_logger

log = get_logger("tda_backend.server")

APP = "tda_backend.api.app:create_app"
# uvicorn's exit code for a worker whose application did not start (uvicorn.config.STARTUP_FAILURE).
STARTUP_FAILURE = 3
_PR_SET_PDEATHSIG = 1
_CHECK_S = 0.5


class Options(TypedDict):
    log_config: None
    access_log: bool
    timeout_graceful_shutdown: int


# uvicorn's settings, one process or several: tda_backend's logging, no access log.
OPTIONS: Options = {"log_config": None, "access_log": False, "timeout_graceful_shutdown": 15}


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def _stop_with_parent() -> None:
    """Have the kernel send SIGTERM to this process when the supervisor dies (even by SIGKILL),
    rather than leave it serving alone on the port."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _serve(sock: socket.socket, host: str, port: int) -> None:
    _stop_with_parent()
    config = uvicorn.Config(APP, factory=True, host=host, port=port, **OPTIONS)
    uvicorn.Server(config).run(sockets=[sock])


def supervise(host: str, port: int, workers: int) -> None:
    """Serve ``APP`` from ``workers`` processes, each on its own ``SO_REUSEPORT`` socket, until
    SIGTERM or SIGINT."""
    sockets = [listening_socket(host, port) for _ in range(workers)]
    context = multiprocessing.get_context("spawn")
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())

    def start(sock: socket.socket) -> BaseProcess:
        process = context.Process(target=_serve, args=(sock, host, port), name="tda-server-worker")
        process.start()
        return process

    processes = [start(sock) for sock in sockets]
    exit_code = 0
    while not stopping.wait(_CHECK_S):
        for i, process in enumerate(processes):
            if process.is_alive():
                continue
            if process.exitcode == STARTUP_FAILURE:
                log.error("a server process failed to start; stopping", pid=process.pid)
                exit_code = STARTUP_FAILURE
                stopping.set()
                break
            log.warning(
                "a server process stopped; starting another",
                pid=process.pid,
                exitcode=process.exitcode,
            )
            processes[i] = start(sockets[i])
    for process in processes:
        if process.is_alive() and process.pid is not None:
            process.terminate()
    for process in processes:
        process.join()
    for sock in sockets:
        sock.close()
    if exit_code:
        sys.exit(exit_code)
