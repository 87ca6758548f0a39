"""Batches formed by arrival: the calls that come while one batch is being run make the next.

Under concurrent load a statement or a Redis command for a whole batch costs little more than one
for a single call, and the fixed part (the driver, SQLAlchemy's execution, a round trip, the
server's parse and commit) is paid once per batch. Nothing waits for a batch to fill: a call that
finds nothing running starts at once, alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Batches(Generic[T, R]):
    """``await batches(item)`` gives ``item``'s outcome from ``run(batch)``, which takes the
    items of a batch in arrival order and returns, in the same order, each one's result or the
    exception to raise for it alone. An exception ``run`` raises is raised for every item of
    the batch."""

    def __init__(self, run: Callable[[list[T]], Awaitable[list[R | BaseException]]]) -> None:
        self._run = run
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._running: asyncio.Task[None] | None = None

    async def __call__(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._running is None:
            self._running = asyncio.create_task(self._run_waiting())
        return await future

    async def _run_waiting(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    outcomes = await self._run([item for item, _ in batch])
                except BaseException as error:
                    for _, future in batch:
                        _settle(future, error)
                    if not isinstance(error, Exception):
                        raise
                    continue
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    _settle(future, outcome)
        finally:
            self._running = None
            for _, future in self._waiting:  # only when this task was cancelled (shutdown)
                _settle(future, ConnectionError("the server is stopping"))
            self._waiting = []


def _settle(future: asyncio.Future[R], outcome: R | BaseException) -> None:
    if future.done():  # cancelled meanwhile: its caller went away
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
