"""Several uvicorn worker processes sharing one listening socket, each new connection accepted
by the process that holds the fewest.

uvicorn's own supervisor shares the socket too, but whichever worker wakes first accepts every
connection waiting (uvloop accepts until the queue is empty): a burst of clients connecting at
once, as a pool of keep-alive connections does, lands on one process, and the others stay idle.
One ``SO_REUSEPORT`` socket per process (the kernel picking one by a hash of the connection's
addresses) spreads them unevenly: 16 connections came 8/8 in 5 of 40 trials, 11/5 or worse in 8,
and the clients of the busier process waited in proportion.

Here every process counts its open connections in an array the supervisor shares with them. All
are woken for a new connection; one that holds more than the least loaded leaves it to that one,
for at most ``DEFER_S`` (after which it accepts anyway, so that a process that is busy, stuck or
dead never holds a connection back longer than that).

The supervisor binds and listens (so a port in use fails at once, in the parent), starts one
process per slot, starts a worker again when it dies, stops when a worker fails during its
start-up (uvicorn's exit code 3: every restart would fail the same way), and passes SIGTERM or
SIGINT on to the workers, which finish their requests before they exit.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import multiprocessing
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from typing import Any, TypedDict

import uvicorn

from tda_backend.services.telemetry import get_logger

log = get_logger("tda_backend.server")

APP = "tda_backend.api.app:create_app"
# uvicorn's exit code for a worker whose application did not start (uvicorn.config.STARTUP_FAILURE).
STARTUP_FAILURE = 3
_PR_SET_PDEATHSIG = 1
_CHECK_S = 0.5
BACKLOG = 2048
# How long a process leaves a new connection to a less loaded one before accepting it itself.
DEFER_S = 0.02
_NOT_SERVING = 1 << 40


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
    sock.bind((host, port))
    sock.listen(BACKLOG)
    sock.set_inheritable(True)
    return sock


class _Acceptor:
    """Accepts on the shared socket for this process, in turn with the others (see above); for
    uvicorn, one of its servers (``close``, ``wait_closed``)."""

    def __init__(
        self,
        sock: socket.socket,
        protocol: Callable[[], asyncio.Protocol],
        connections: Callable[[], int],
        load: Any,
        slot: int,
    ) -> None:
        self._sock = sock
        self._protocol = protocol
        self._connections = connections
        self._load = load
        self._slot = slot
        self._loop = asyncio.get_running_loop()
        self._deferred_at: float | None = None
        self._starting = 0  # accepted, transport not made yet
        self.count()  # serving from now on
        log.info("accepting connections", slot=slot)
        self._closed = False
        sock.setblocking(False)
        self._loop.add_reader(sock.fileno(), self._readable)

    def count(self) -> int:
        """This process's connections, published for the others: uvicorn's, and those accepted
        whose transport is not made yet."""
        mine = self._connections() + self._starting
        self._load[self._slot] = mine
        return mine

    def _readable(self) -> None:
        mine = self.count()
        now = time.monotonic()
        if self._deferred_at is not None and now - self._deferred_at > 2 * DEFER_S:
            self._deferred_at = None  # from a connection another process has taken since
        if mine > min(self._load) and (
            self._deferred_at is None or now - self._deferred_at < DEFER_S
        ):
            # Another process holds fewer: let it take this one, and look again shortly.
            if self._deferred_at is None:
                self._deferred_at = now
            self._loop.remove_reader(self._sock.fileno())
            self._loop.call_later(DEFER_S / 4, self._listen_again)
            return
        self._deferred_at = None
        try:
            connection, _ = self._sock.accept()
        except (BlockingIOError, InterruptedError):
            return  # another process took it
        except OSError as error:  # out of file descriptors, say: the client sees a reset
            log.warning("could not accept a connection", error=str(error))
            return
        connection.setblocking(False)
        # Counted from now on, though uvicorn's protocol sees it only once the transport is made.
        self._starting += 1
        self.count()
        task = self._loop.create_task(
            self._loop.connect_accepted_socket(self._protocol, connection)
        )
        task.add_done_callback(self._started)

    def made(self) -> None:
        """A connection accepted here got its protocol (uvicorn counts it from now on)."""
        self._starting -= 1

    def _started(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled() or task.exception() is not None:
            self._starting -= 1
            self.count()
            if not task.cancelled():
                log.warning("could not serve a connection", error=str(task.exception()))

    def _listen_again(self) -> None:
        if not self._closed:
            self._loop.add_reader(self._sock.fileno(), self._readable)

    def close(self) -> None:
        self._closed = True
        self._loop.remove_reader(self._sock.fileno())

    async def wait_closed(self) -> None:
        return None


class _Server(uvicorn.Server):
    """uvicorn's server, accepting through ``_Acceptor`` instead of ``loop.create_server``: its
    ``startup`` without the creation of a server."""

    def __init__(self, config: uvicorn.Config, sock: socket.socket, load: Any, slot: int) -> None:
        super().__init__(config)
        self._sock, self._load, self._slot = sock, load, slot

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await self.lifespan.startup()
        if self.lifespan.should_exit:
            sys.exit(STARTUP_FAILURE)
        config = self.config
        loop = asyncio.get_running_loop()

        connections = self.server_state.connections

        class Counted(config.http_protocol_class):  # type: ignore[name-defined,misc]
            """uvicorn's protocol, which also tells the acceptor when it opens and closes."""

            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                super().connection_made(transport)
                acceptor.made()

            def connection_lost(self, exc: Exception | None) -> None:
                super().connection_lost(exc)
                acceptor.count()

        def protocol() -> asyncio.Protocol:
            return Counted(
                config=config,
                server_state=self.server_state,
                app_state=self.lifespan.state,
                _loop=loop,
            )

        acceptor = _Acceptor(
            self._sock,
            protocol,
            lambda: len(connections),
            self._load,
            self._slot,
        )
        self.servers = [acceptor]  # type: ignore[list-item]
        self.started = True


def _stop_with_parent() -> None:
    """Have the kernel send SIGTERM to this process when the supervisor dies (even by SIGKILL),
    rather than leave it serving alone on the port."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _serve(sock: socket.socket, host: str, port: int, load: Any, slot: int) -> None:
    _stop_with_parent()
    config = uvicorn.Config(APP, factory=True, host=host, port=port, **OPTIONS)
    _Server(config, sock, load, slot).run()


def supervise(host: str, port: int, workers: int) -> None:
    """Serve ``APP`` from ``workers`` processes on one listening socket, each connection
    accepted by the process holding the fewest, until SIGTERM or SIGINT."""
    sock = listening_socket(host, port)
    context = multiprocessing.get_context("spawn")
    # Each process's open connections; a process not serving counts as full.
    load = context.RawArray(ctypes.c_long, [_NOT_SERVING] * workers)
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())

    def start(slot: int) -> BaseProcess:
        load[slot] = _NOT_SERVING
        process = context.Process(
            target=_serve, args=(sock, host, port, load, slot), name="tda-server-worker"
        )
        process.start()
        return process

    processes = [start(slot) for slot in range(workers)]
    exit_code = 0
    while not stopping.wait(_CHECK_S):
        for i, process in enumerate(processes):
            if process.is_alive():
                continue
            load[i] = _NOT_SERVING
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
            processes[i] = start(i)
    for process in processes:
        if process.is_alive() and process.pid is not None:
            process.terminate()
    for process in processes:
        process.join()
    sock.close()
    if exit_code:
        sys.exit(exit_code)
