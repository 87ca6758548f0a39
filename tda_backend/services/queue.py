"""The production job runner: a Redis queue (arq) in front of the database's record of every job.

API servers put a message on the queue when they accept a job; ``tda-worker`` processes take
messages and compute. The database stays the record, and Redis holds nothing that cannot be
rebuilt from it:

- A message only wakes a worker. It names a job and the attempt it was queued for
  (``<job_id>.<attempts>``); the worker claims the job with the database's conditional update, and
  a message whose job is no longer queued (cancelled, claimed by another worker, finished) is
  dropped. arq keeps at most one message per name, so sending one again is harmless.
- A sweep runs every ``QUEUE_SWEEP_S`` in one process at a time (a Redis lock): it recovers the
  running jobs of dead workers (requeued, or failed with the reason after ``JOB_MAX_ATTEMPTS``), and
  sends again the message of every queued job that has none (Redis restarted without its data, an
  enqueue failed while Redis was down). When Redis is down, recovery still runs on the database.
- Progress and cancellation go through the job's row (heartbeats every ``HEARTBEAT_S``), as in the
  embedded runner: a cancel made on any server reaches the computing worker within a heartbeat.
- A worker stopping (SIGTERM) gives its running jobs back to the database's queue and hands their
  messages back to the queue (arq's ``Retry``), so another worker resumes them at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import warnings
from datetime import timedelta
from typing import Any

from arq.connections import ArqRedis
from arq.constants import in_progress_key_prefix, job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms
from arq.worker import Retry, Worker, func
from redis.asyncio import ConnectionPool

from tda_backend.config import Settings
from tda_backend.models.tables import Job, utcnow
from tda_backend.services.batching import Batches
from tda_backend.services.cache import Cache
from tda_backend.services.jobs import (
    CANCEL_GRACE_S,
    Executor,
    job_threads,
    make_worker_id,
    recover_dead_jobs,
)
from tda_backend.services.repository import Repository
from tda_backend.services.storage import BlobStore
from tda_backend.services.telemetry import get_logger

log = get_logger(__name__)

FUNCTION = "tda_job"
POLL_S = 0.05  # how often an idle worker looks at the queue (one cheap Redis read)
SEND_AGAIN_AFTER_S = 1.0  # a queued job without a message this old gets one (submit sends its own)
SWEEP_BATCH = 1000  # queued jobs looked at per sweep, oldest first
MAX_MESSAGE_TRIES = 100  # arq's count of starts of one message (hand-backs at shutdown included)
REDIS_TIMEOUT_S = 5.0


# arq's enqueue_job (WATCH, EXISTS, MULTI...EXEC) for several messages in one round trip: each is
# stored and queued unless one of that name exists or has a result, atomically. KEYS are each
# message's job and result keys, then the queue; ARGV the expiry, then each message's body, score
# and name. Returns a 1 or 0 for each.
_ENQUEUE = """
local sent = {}
for m = 1, (#KEYS - 1) / 2 do
  local job, result, a = KEYS[2 * m - 1], KEYS[2 * m], 3 * m - 1
  if redis.call('EXISTS', job, result) > 0 then
    sent[m] = 0
  else
    redis.call('PSETEX', job, ARGV[1], ARGV[a])
    redis.call('ZADD', KEYS[#KEYS], ARGV[a + 1], ARGV[a + 2])
    sent[m] = 1
  end
end
return sent
"""


# arq's start of a message in one round trip instead of five (WATCH, EXISTS, ZSCORE, MULTI...EXEC,
# UNWATCH; four for a message another worker started first): the message is marked in progress
# unless it is already, or has left the queue, or is not due yet, atomically. Returns its score.
_START = """
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not score or tonumber(score) > tonumber(ARGV[2]) then return false end
redis.call('PSETEX', KEYS[1], ARGV[3], '1')
return score
"""


# The sweep's question, which of these messages are missing, in one command: the positions (from
# 1) of the keys that do not exist. With a pipeline of one EXISTS per message (each packed and
# parsed in Python) a sweep over 1,000 queued jobs cost 28 to 33 ms of CPU, every QUEUE_SWEEP_S,
# on an event loop that also answers requests; with the script 6 to 7, most of it the job read.
_MISSING = """
local missing = {}
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 0 then missing[#missing + 1] = i end
end
return missing
"""


class _Worker(Worker):
    """arq's worker, starting each message with one script (``_START``) instead of a WATCH
    transaction; everything else is arq's."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._start_script: Any = None

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        if self._start_script is None:
            self._start_script = self.pool.register_script(_START)
        for job_id_b in job_ids:
            await self.sem.acquire()
            if self.job_counter >= self.max_jobs:
                self.sem.release()
                return
            self.job_counter = self.job_counter + 1
            job_id = job_id_b.decode()
            score = await self._start_script(
                keys=[in_progress_key_prefix + job_id, self.queue_name],
                args=[job_id, timestamp_ms(), int(self.in_progress_timeout_s * 1000)],
            )
            if not score:
                # Started elsewhere, finished and removed, or queued again with a delay.
                self.job_counter = self.job_counter - 1
                self.sem.release()
                continue
            task = self.loop.create_task(self.run_job(job_id, int(float(score))))
            task.add_done_callback(lambda _: self._release_sem_dec_counter_on_complete())
            self.tasks[job_id] = task


def message_id(job_id: str, attempts: int) -> str:
    return f"{job_id}.{attempts}"


def connect(settings: Settings) -> ArqRedis:
    """A client of ``REDIS_URL`` that does not connect until first used, so that a server starts
    (and reports Redis as degraded) while Redis is down."""
    assert settings.redis_url is not None
    pool = ConnectionPool.from_url(
        settings.redis_url,
        socket_timeout=REDIS_TIMEOUT_S,
        socket_connect_timeout=REDIS_TIMEOUT_S,
        health_check_interval=30,
    )
    return ArqRedis(pool, default_queue_name=f"{settings.redis_prefix}queue")


class QueueRunner:
    """Enqueues in every process; computes only where ``consume`` (``tda-worker``)."""

    name = "redis-queue"

    def __init__(
        self,
        settings: Settings,
        repo: Repository,
        blobs: BlobStore,
        cache: Cache,
        redis: ArqRedis,
        *,
        consume: bool,
    ) -> None:
        self.settings = settings
        self.repo = repo
        self.redis = redis
        self.consume = consume
        self.concurrency = max(settings.job_workers, 1) if consume else 0
        self.worker_id = make_worker_id()
        self.queue = f"{settings.redis_prefix}queue"
        self._sweep_lock = f"{settings.redis_prefix}sweep-lock"
        self._pool = job_threads(settings, self.concurrency)
        self.executor = Executor(settings, repo, blobs, cache, self.worker_id, self._pool)
        self._worker: Worker | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._enqueue = redis.register_script(_ENQUEUE)
        # Messages of jobs accepted while others are being sent go together next.
        self._send_in_batches = Batches(self._send)
        self._missing = redis.register_script(_MISSING)

    # -- lifecycle --------------------------------------------------------------------------

    async def load_scripts(self) -> None:
        """Load the scripts into Redis ahead of their first use (which would otherwise find them
        missing, load them and send them again)."""
        for script in (self._enqueue, self._missing):
            await self.redis.script_load(script.script)

    async def start(self) -> None:
        # arq logs a line per message; our own job lines say more.
        logging.getLogger("arq").setLevel(logging.WARNING)
        if self.consume:
            self._worker = _Worker(
                [func(self._run_message, name=FUNCTION, max_tries=MAX_MESSAGE_TRIES)],
                queue_name=self.queue,
                redis_pool=connect(self.settings),
                max_jobs=self.concurrency,
                # Our own time limit stops a job first; this only guards against a hung task.
                job_timeout=self.settings.job_time_limit_s + CANCEL_GRACE_S + 60,
                keep_result=0,
                poll_delay=POLL_S,
                handle_signals=False,
                health_check_interval=60,
            )
            self._tasks.append(asyncio.create_task(self._consume(), name="tda-queue-consumer"))
        # A first sweep before serving: jobs of workers that died meanwhile are recovered now.
        try:
            await self.sweep(always=True)
        except Exception:
            log.warning("job queue sweep failed", exc_info=True)
        self._tasks.append(asyncio.create_task(self._sweep_forever(), name="tda-queue-sweep"))
        log.info(
            "job runner started",
            runner=self.name,
            queue=self.queue,
            computes=self.consume,
            concurrency=self.concurrency,
            worker=self.worker_id,
        )

    async def stop(self) -> None:
        """Stop taking messages, give running jobs back to the queue, and close."""
        self._stopping = True
        worker = self._worker
        if worker is not None:
            worker.allow_pick_jobs = False
            for active in self.executor.active.values():
                active.stop("shutdown")
            running = [t for t in worker.tasks.values() if not t.done()]
            if running:
                await asyncio.wait(running, timeout=CANCEL_GRACE_S)
        # arq's polling loop can swallow a cancellation that lands inside a Redis call: repeat.
        while pending := [task for task in self._tasks if not task.done()]:
            for task in pending:
                task.cancel()
            await asyncio.wait(pending, timeout=0.1)
        self._tasks = []
        if worker is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError), warnings.catch_warnings():
                # arq closes its pool with redis-py's deprecated close(); nothing to act on here.
                warnings.simplefilter("ignore", DeprecationWarning)
                await worker.close()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- the scheduling interface -----------------------------------------------------------

    async def enqueue(self, job: Job) -> None:
        try:
            await self._send_in_batches((job.id, job.attempts))
        except Exception as exc:
            # The job is queued in the database; the sweep sends its message once Redis answers.
            log.warning(
                "could not put the job on the Redis queue; the sweep will",
                job_id=job.id,
                error=f"{type(exc).__name__}: {exc}",
            )

    def cancel(self, job_id: str) -> None:
        active = self.executor.active.get(job_id)
        if active is not None:
            active.stop("cancel")

    def describe(self) -> dict[str, Any]:
        return {
            "runner": self.name,
            "queue": self.queue,
            "computes_here": self.consume,
            "threads": self.concurrency,
            "busy": len(self.executor.active),
            "worker": self.worker_id,
        }

    # -- computing --------------------------------------------------------------------------

    async def _consume(self) -> None:
        """Run arq's polling loop, starting it again whenever Redis goes away and comes back."""
        assert self._worker is not None
        while not self._stopping:
            try:
                await self._worker.main()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("job queue unreachable; retrying", error=f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(1.0)

    async def _run_message(self, ctx: dict[str, Any], job_id: str) -> str:
        claim = await self.repo.claim(job_id, self.worker_id)
        if claim is None:
            return "not queued"
        status = await self.executor.run(claim)
        if status == "requeued":
            # This worker is stopping: the message goes back to the queue for another worker.
            raise Retry()
        return status

    # -- the sweep --------------------------------------------------------------------------

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.queue_sweep_s)
            try:
                await self.sweep()
            except Exception:
                log.warning("job queue sweep failed", exc_info=True)

    async def sweep(self, *, always: bool = False) -> None:
        """Recover dead workers' jobs and send missing messages. The periodic sweeps of all
        processes take turns through a Redis lock (``always`` skips the turn: both steps are safe
        to run at once, the lock only saves work)."""
        try:
            mine = always or await self.redis.set(
                self._sweep_lock,
                self.worker_id,
                nx=True,
                px=max(int(self.settings.queue_sweep_s * 900), 100),
            )
            await self.redis.ping()
            redis_up = True
        except Exception:
            mine, redis_up = True, False  # the database part needs no lock from Redis
        if not mine:
            return
        await recover_dead_jobs(self.repo, self.settings, self.worker_id)
        if redis_up:
            await self._send_missing()

    async def _send_missing(self) -> int:
        before = utcnow() - timedelta(seconds=SEND_AGAIN_AFTER_S)
        queued = await self.repo.queued_jobs(before, SWEEP_BATCH)
        if not queued:
            return 0
        missing = await self._missing(
            keys=[job_key_prefix + message_id(job_id, attempts) for job_id, attempts in queued]
        )
        sent = len(missing)
        if missing:
            await self._send([queued[int(position) - 1] for position in missing])
        if sent:
            log.info("sent queued jobs to the Redis queue again", jobs=sent)
        return sent

    async def _send(self, messages: list[tuple[str, int]]) -> list[bool | BaseException]:
        """Put the messages of these jobs' attempts on the queue, as arq's ``enqueue_job`` does,
        in one script call: True for each message sent, False for one there already."""
        now = timestamp_ms()
        keys: list[str] = []
        args: list[Any] = [self.redis.expires_extra_ms]
        for job_id, attempts in messages:
            name = message_id(job_id, attempts)
            keys += [job_key_prefix + name, result_key_prefix + name]
            args += [serialize_job(FUNCTION, (job_id,), {}, None, now), now, name]
        sent = await self._enqueue(keys=[*keys, self.queue], args=args)
        return [bool(flag) for flag in sent]
