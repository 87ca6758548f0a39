"""``tda-server`` with ``API_WORKERS=2``: connections opened at once are split evenly between the
two processes (each accepts only while it holds no more than the other), a process killed
leaves the other to serve every request, and the supervisor starts another in its place.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from e2e_helpers import Server

pytestmark = pytest.mark.integration

REQUEST = b"GET /nothing HTTP/1.1\r\nHost: test\r\n\r\n"


def serving_processes(server: Server) -> list[int]:
    """The supervisor's uvicorn processes (not multiprocessing's resource tracker)."""
    assert server.process is not None
    pid = server.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [
        int(child)
        for child in children
        if b"resource_tracker" not in Path(f"/proc/{child}/cmdline").read_bytes()
    ]


def connections_by_process(server: Server, pids: list[int]) -> list[int]:
    """How many established connections to the server's port each process holds."""
    established = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == server.port and fields[3] == "01":
            established.add(fields[9])  # the socket's inode
    counts = []
    for pid in pids:
        inodes = set()
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if match := re.fullmatch(r"socket:\[(\d+)\]", target):
                inodes.add(match.group(1))
        counts.append(len(inodes & established))
    return counts


async def split_of(server: Server, pids: list[int], n: int) -> list[int]:
    """``n`` connections opened at once and a request answered on each: how many each of
    ``pids`` holds. Closed again (on the server's side too) before it returns."""
    pairs = await asyncio.gather(
        *(asyncio.open_connection("127.0.0.1", server.port) for _ in range(n))
    )
    for _, writer in pairs:
        writer.write(REQUEST)
    heads = await asyncio.gather(*(reader.readuntil(b"\r\n\r\n") for reader, _ in pairs))
    assert all(head.startswith(b"HTTP/1.1 404") for head in heads)
    await asyncio.sleep(0.2)
    counts = connections_by_process(server, pids)
    for _, writer in pairs:
        writer.close()
    await asyncio.sleep(0.3)
    return counts


def wait_for_started(server: Server, processes: int) -> None:
    """Until ``processes`` server processes have started accepting (logged)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        started = [
            line for line in server.log_lines() if line.get("event") == "accepting connections"
        ]
        if len(started) >= processes:
            return
        time.sleep(0.1)
    raise AssertionError(f"fewer than {processes} server processes started")


@pytest.fixture
def two_processes(tmp_path: Path) -> Iterator[Server]:
    server = Server(tmp_path / "data", API_WORKERS="2", LOG_LEVEL="INFO")
    server.start()
    try:
        wait_for_started(server, 2)
        # The helper's own requests on connections of their own, closed after each: not counted.
        server.client.close()
        server.client = httpx.Client(
            base_url=server.url, timeout=30, limits=httpx.Limits(max_keepalive_connections=0)
        )
        yield server
    finally:
        server.stop()


def test_connections_opened_at_once_are_split_evenly(two_processes: Server) -> None:
    pids = serving_processes(two_processes)
    assert len(pids) == 2
    # A process that is busy (here: the first requests after start-up) for longer than DEFER_S
    # leaves its share to the other: one round first.
    asyncio.run(split_of(two_processes, pids, 16))
    for n in (16, 16, 16, 9):
        counts = asyncio.run(split_of(two_processes, pids, n))
        assert sum(counts) == n, counts
        assert max(counts) - min(counts) <= 1, counts


def test_a_killed_process_leaves_the_other_to_serve_and_is_replaced(
    two_processes: Server,
) -> None:
    victim, survivor = serving_processes(two_processes)
    os.kill(victim, signal.SIGKILL)
    started = time.monotonic()
    assert asyncio.run(split_of(two_processes, [survivor], 8)) == [8]
    assert time.monotonic() - started < 2.0
    wait_for_started(two_processes, 3)  # the first two, and the one in the victim's place
    pids = serving_processes(two_processes)
    assert survivor in pids
    assert victim not in pids
    assert len(pids) == 2
    # Within DEFER_S while the new process is busy with its first requests, then its share.
    deadline = time.monotonic() + 20
    counts = asyncio.run(split_of(two_processes, pids, 16))
    while counts != [8, 8] and time.monotonic() < deadline:
        counts = asyncio.run(split_of(two_processes, pids, 16))
    assert counts == [8, 8], counts
