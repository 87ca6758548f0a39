"""Jobs: submission, execution, and the runner that schedules them.

The database is the queue's record: a job is queued by inserting its row, started by a conditional
update that only one worker can win, kept alive by heartbeats, and finished by another conditional
update. ``JobRunner`` is the scheduling interface; ``EmbeddedRunner`` (the default) runs jobs on a
pool of threads inside the server process. ``tda_backend.services.queue.QueueRunner`` (production
mode: a Redis queue, separate ``tda-worker`` processes) implements the same interface and reuses
``Executor`` for the work.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import structlog

from tda_backend import core
from tda_backend.config import Settings
from tda_backend.models.jobs import AlphaComplexRequest, VietorisRipsRequest
from tda_backend.models.tables import Dataset, Job, Result, utcnow
from tda_backend.services import compute, parsing
from tda_backend.services.cache import Cache
from tda_backend.services.errors import StorageFullError, TooManyRequestsError
from tda_backend.services.repository import Claim, Recovery, Repository, new_id
from tda_backend.services.storage import BlobStore
from tda_backend.services.telemetry import JOB_DURATION, JOBS_FINISHED, JOBS_SUBMITTED, get_logger

log = get_logger(__name__)

HEARTBEAT_S = 0.5  # also how often a cancel made through another process is noticed
IDLE_POLL_S = 1.0  # a worker with nothing to do looks at the queue this often
CANCEL_GRACE_S = 10.0  # how long a cancelled computation may take to stop before it is abandoned

ComputeRequest = VietorisRipsRequest | AlphaComplexRequest
StopReason = Literal["cancel", "timeout", "lost", "shutdown"]


def job_threads(settings: Settings, threads: int) -> ThreadPoolExecutor:
    """The pool of threads jobs compute on; with ``JOB_SCHEDULING=idle`` each runs under Linux's
    SCHED_IDLE (the engine's own threads, started from them, inherit it).

    Only the computing threads: the event loop that claims jobs, sends heartbeats and answers
    requests keeps its priority, so a busy host delays computations, not leases or answers.
    """
    idle = settings.job_scheduling == "idle"
    return ThreadPoolExecutor(
        max(threads, 1), thread_name_prefix="tda-job", initializer=_schedule_idle if idle else None
    )


def _schedule_idle() -> None:
    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # 0: the calling thread


def request_model(algorithm: str) -> type[ComputeRequest]:
    return VietorisRipsRequest if algorithm == "vietoris-rips" else AlphaComplexRequest


def computation_for(
    job_algorithm: str, params: dict[str, Any], kind: str, data_id: str
) -> compute.Computation:
    request = request_model(job_algorithm)(data_id=data_id, **params)
    n_threads = request.n_threads if isinstance(request, VietorisRipsRequest) else 1
    return compute.Computation(
        algorithm=job_algorithm,  # type: ignore[arg-type]
        params=request.engine_params(),
        kind=kind,  # type: ignore[arg-type]
        n_threads=n_threads,
    )


# -- worker identity ----------------------------------------------------------------------------


def make_worker_id() -> str:
    """``host:pid:nonce``; the nonce tells a restarted process from its predecessor with the
    same pid (containers restart as pid 1)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def worker_is_dead(worker: str | None, me: str) -> bool:
    """True when ``worker`` surely no longer runs: it ran on this host and its process is gone,
    or it is an earlier process that had our pid. Other hosts' workers are judged by their lease."""
    if worker is None:
        return True
    host, _, rest = worker.partition(":")
    pid_text, _, _ = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit() or worker == me:
        return False
    pid = int(pid_text)
    return pid == os.getpid() or not _pid_alive(pid)


# -- the scheduling interface ---------------------------------------------------------------------


class JobRunner(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def enqueue(self, job: Job) -> None:
        """``job`` was queued: have a worker claim it. Must not raise: the row is the record."""

    def cancel(self, job_id: str) -> None:
        """Stop ``job_id`` now if it runs here; the database flag reaches it anywhere else."""

    def describe(self) -> dict[str, Any]:
        """What ``/health`` shows about the workers."""


async def recover_dead_jobs(repo: Repository, settings: Settings, me: str) -> list[Recovery]:
    """Requeue or fail the running jobs whose worker is gone (dead process, expired lease)."""
    recovered = await repo.recover(
        is_dead=lambda w: worker_is_dead(w, me),
        lease_s=settings.job_lease_s,
        max_attempts=settings.job_max_attempts,
    )
    for item in recovered:
        log.warning(
            "recovered a job whose worker stopped",
            job_id=item.job_id,
            status=item.status,
            reason=item.reason,
        )
    return recovered


# -- submission ---------------------------------------------------------------------------------


@dataclass
class Submitter:
    settings: Settings
    repo: Repository
    blobs: BlobStore
    runner: JobRunner

    async def submit(
        self,
        algorithm: str,
        request: ComputeRequest,
        *,
        owner: str | None,
        request_id: str | None,
    ) -> Job:
        """Accept a job: three database statements (``Repository.submit``) and one message on
        the queue.

        A job whose result exists already is answered succeeded. Any other is refused when its
        memory estimate exceeds ``MAX_JOB_MEMORY_MB``; the bound from the data's size decides
        that without reading the data, and only where it exceeds the budget is the data read for
        the engine's estimate (between two passes of ``Repository.submit``).
        """
        params = request.model_dump(exclude={"data_id"})
        budget_mb = self.settings.max_job_memory_mb
        # What the read of the dataset decided: the computation and its result key.
        computation: compute.Computation | None = None
        key = ""
        checked = False

        def key_of(dataset: Dataset) -> str:
            nonlocal computation, key
            computation = computation_for(algorithm, params, dataset.kind, dataset.id)
            computation.check()
            key = compute.result_key(dataset.sha256, computation)
            return key

        def make_job(dataset: Dataset, reusable: Result | None) -> Job | None:
            assert computation is not None
            if reusable is None and not checked:
                bound = compute.bound_mb(computation, dataset.n_rows)
                if bound is None or bound > budget_mb:
                    return None
            return self._new_job(algorithm, params, dataset, key, reusable, owner, request_id)

        limit = self.settings.max_jobs_per_key
        submitted = await self.repo.submit(
            request.data_id, owner, key_of=key_of, make_job=make_job, max_active=limit
        )
        if submitted.job is None and not submitted.over_limit:
            assert computation is not None
            data = await asyncio.to_thread(self._load, submitted.dataset)
            await asyncio.to_thread(compute.check_memory, computation, data, budget_mb)
            checked = True
            submitted = await self.repo.submit(
                request.data_id, owner, key_of=key_of, make_job=make_job, max_active=limit
            )
        job = submitted.job
        if job is None:
            raise TooManyRequestsError(
                f"too many jobs: this API key already has {limit} queued or running"
                " (MAX_JOBS_PER_KEY); wait for one to finish or cancel one",
                retry_after=HEARTBEAT_S * 10,
            )
        JOBS_SUBMITTED.labels(algorithm, str(job.reused).lower()).inc()
        log.info(
            "job accepted",
            job_id=job.id,
            algorithm=algorithm,
            reused=job.reused,
            data_id=job.data_id,
        )
        if submitted.reusable is None:
            await self.runner.enqueue(job)
        elif self.settings.kafka_bootstrap_servers is not None:
            document = await asyncio.to_thread(self.blobs.get, submitted.reusable.blob_sha256)
            publish_features_later(self.settings, job.id, document)
        return job

    @staticmethod
    def _new_job(
        algorithm: str,
        params: dict[str, Any],
        dataset: Dataset,
        key: str,
        reusable: Result | None,
        owner: str | None,
        request_id: str | None,
    ) -> Job:
        now = utcnow()
        return Job(
            id=new_id("job"),
            owner=owner,
            data_id=dataset.id,
            data_sha256=dataset.sha256,
            algorithm=algorithm,
            params=params,
            result_key=key,
            request_id=request_id,
            status="queued" if reusable is None else "succeeded",
            progress=0.0 if reusable is None else 1.0,
            reused=reusable is not None,
            attempts=0,
            cancel_requested=False,
            created_at=now,
            started_at=None if reusable is None else now,
            finished_at=None if reusable is None else now,
        )

    def _load(self, dataset: Dataset) -> parsing.FloatArray:
        return parsing.from_npy_bytes(self.blobs.get(dataset.sha256))


# -- execution ----------------------------------------------------------------------------------


@dataclass
class _Active:
    token: core.CancelToken
    progress: float = 0.0
    reason: StopReason | None = None

    def stop(self, reason: StopReason) -> None:
        if self.reason is None:
            self.reason = reason
        self.token.cancel()


@dataclass
class Executor:
    """Runs claimed jobs to an end: computes on a thread pool, supervises, records the outcome."""

    settings: Settings
    repo: Repository
    blobs: BlobStore
    cache: Cache
    worker_id: str
    pool: ThreadPoolExecutor
    active: dict[str, _Active] = field(default_factory=dict)

    async def run(self, claim: Claim) -> str:
        """Run a claimed job to an end; return how it ended (a status, or "requeued" or "lost")."""
        job = claim.job
        with structlog.contextvars.bound_contextvars(job_id=job.id, request_id=job.request_id):
            started = time.monotonic()
            log.info(
                "job started", algorithm=job.algorithm, attempt=job.attempts, worker=self.worker_id
            )
            try:
                status = await self._run(job, claim.data_kind)
            except Exception as exc:  # the worker must survive anything a job does
                log.exception("job crashed the executor")
                status = "failed"
                await self._finish(job, "failed", f"internal error: {type(exc).__name__}: {exc}")
            elapsed = time.monotonic() - started
            if status in ("succeeded", "failed", "cancelled"):
                JOBS_FINISHED.labels(job.algorithm, status).inc()
                JOB_DURATION.labels(job.algorithm, status).observe(elapsed)
            log.info("job ended", status=status, duration_s=round(elapsed, 3))
            return status

    async def _finish(
        self, job: Job, status: str, error: str | None = None, result: Result | None = None
    ) -> None:
        with contextlib.suppress(Exception):
            if not await self.repo.finish(job.id, self.worker_id, status, error, result=result):
                log.warning("job was taken from this worker before it finished", status=status)

    async def _run(self, job: Job, data_kind: str) -> str:
        computation = computation_for(job.algorithm, job.params, data_kind, job.data_id)
        active = _Active(core.CancelToken())
        self.active[job.id] = active
        try:
            future = asyncio.get_running_loop().run_in_executor(
                self.pool, self._compute, computation, job.data_sha256, active
            )
            await self._supervise(job, future, active)
        finally:
            self.active.pop(job.id, None)
        return await self._record(job, future, active, computation)

    def _compute(
        self, computation: compute.Computation, data_sha256: str, active: _Active
    ) -> tuple[str, float, bytes]:
        data = parsing.from_npy_bytes(self.blobs.get(data_sha256))
        # Checked again at the start: MAX_JOB_MEMORY_MB may be lower here than where the job was
        # accepted (another process, or a restart with new settings).
        compute.check_memory(computation, data, self.settings.max_job_memory_mb)

        def on_progress(fraction: float) -> None:
            active.progress = min(max(float(fraction), 0.0), 1.0)

        started = time.monotonic()
        result = compute.run(
            computation,
            data,
            memory_budget_mb=self.settings.max_job_memory_mb,
            progress=on_progress,
            cancel=active.token,
        )
        duration = time.monotonic() - started
        document = compute.encode_document(
            compute.result_document(result, computation, data_sha256)
        )
        return self.blobs.put(document), duration, document

    async def _supervise(self, job: Job, future: asyncio.Future[Any], active: _Active) -> None:
        deadline = time.monotonic() + self.settings.job_time_limit_s
        stop_deadline: float | None = None
        while True:
            done, _ = await asyncio.wait({future}, timeout=HEARTBEAT_S)
            if done:
                return
            try:
                cancel_requested = await self.repo.heartbeat(
                    job.id, self.worker_id, active.progress
                )
            except Exception:
                log.warning("heartbeat failed", exc_info=True)
                cancel_requested = False
            if cancel_requested is None:
                active.stop("lost")
            elif cancel_requested:
                active.stop("cancel")
            if time.monotonic() > deadline:
                active.stop("timeout")
            if active.reason is not None:
                stop_deadline = stop_deadline or time.monotonic() + CANCEL_GRACE_S
                if time.monotonic() > stop_deadline:
                    log.error("computation did not stop after cancellation; abandoning it")
                    return

    async def _record(
        self,
        job: Job,
        future: asyncio.Future[Any],
        active: _Active,
        computation: compute.Computation,
    ) -> str:
        """Record how the job ended. A computed result is recorded whatever the ending (it is
        right, and the next job with its key reuses it), with the job's final status when there is
        one: one transaction."""
        error: BaseException | None = None
        result: Result | None = None
        if future.done():
            error = future.exception()
            if error is None:
                blob_sha, duration, document = future.result()
                result = Result(
                    key=job.result_key,
                    blob_sha256=blob_sha,
                    algorithm=job.algorithm,
                    data_sha256=job.data_sha256,
                    duration_s=duration,
                )
                await self.cache.set(job.result_key, document)
        reason = active.reason
        if reason in ("lost", "shutdown") and result is not None:
            await self.repo.add_result(result)
        if reason == "lost":
            return "lost"
        if reason == "shutdown":
            await self.repo.requeue(job.id, self.worker_id, count_attempt=False)
            return "requeued"
        if reason == "cancel":
            await self._finish(job, "cancelled", result=result)
            return "cancelled"
        if reason == "timeout":
            limit = self.settings.job_time_limit_s
            await self._finish(
                job,
                "failed",
                (
                    f"time limit exceeded: the job ran longer than {limit:g} s (JOB_TIME_LIMIT_S);"
                    " lower maxdim, set a threshold, use fewer points, or raise the limit"
                ),
                result,
            )
            return "failed"
        if error is None:
            await self._finish(job, "succeeded", result=result)
            if self.settings.kafka_bootstrap_servers is not None:
                publish_features_later(self.settings, job.id, future.result()[2])
            return "succeeded"
        await self._finish(job, "failed", describe_failure(error, computation))
        return "failed"


# -- streaming ----------------------------------------------------------------------------------

_publishing: set[asyncio.Task[bool]] = set()


def publish_features_later(settings: Settings, job_id: str, document: bytes) -> None:
    """Send a succeeded job's features to ``<prefix>tda_feature_results`` in the background.

    The database stays the record: a broker that is down delays nothing and fails no job; the
    publisher logs the miss.
    """
    task = asyncio.get_running_loop().create_task(
        asyncio.to_thread(_publish_features, settings, job_id, document)
    )
    _publishing.add(task)
    task.add_done_callback(_publishing.discard)


def _publish_features(settings: Settings, job_id: str, document: bytes) -> bool:
    from tda_backend.kafka.hooks import publish_job_features

    stored = json.loads(document)
    diagrams = [
        np.array(
            [[b, math.inf if d is None else d] for b, d in stored["diagrams"][str(dim)]],
            dtype=np.float64,
        ).reshape(-1, 2)
        for dim in range(len(stored["diagrams"]))
    ]
    try:
        return publish_job_features(settings, job_id, diagrams, summary=stored["summary"])
    except Exception:  # a copy for stream consumers must never take a worker down
        log.warning("job features not published", job_id=job_id, exc_info=True)
        return False


def describe_failure(error: BaseException, computation: compute.Computation) -> str:
    if isinstance(error, ValueError):  # includes core.ResourceError: the message says what to do
        return str(error)
    if isinstance(error, NotImplementedError):
        return f"{computation.algorithm} is not available in this engine build: {error}"
    if isinstance(error, MemoryError):
        return "out of memory: lower maxdim, set a threshold, or use fewer points"
    if isinstance(error, StorageFullError):
        return str(error)
    log.error("computation failed", exc_info=error)
    return f"internal error: {type(error).__name__}: {error}"


# -- the embedded runner ------------------------------------------------------------------------


class EmbeddedRunner:
    """Worker tasks in the server's event loop, computing on a pool of ``JOB_WORKERS`` threads.

    Several server processes may share one database (``API_WORKERS`` > 1): the conditional claim
    lets each job run once, and a cancel reaches the owning process through the database.
    """

    name = "embedded"

    def __init__(
        self, settings: Settings, repo: Repository, blobs: BlobStore, cache: Cache
    ) -> None:
        self.settings = settings
        self.repo = repo
        self.worker_id = make_worker_id()
        self._pool = job_threads(settings, settings.job_workers)
        self.executor = Executor(settings, repo, blobs, cache, self.worker_id, self._pool)
        self._wakeups: asyncio.Queue[None] = asyncio.Queue()
        self._workers: list[asyncio.Task[None]] = []
        self._reaper: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        await self.recover()
        self._workers = [
            asyncio.create_task(self._work(), name=f"tda-worker-{n}")
            for n in range(self.settings.job_workers)
        ]
        self._reaper = asyncio.create_task(self._reap(), name="tda-reaper")
        log.info(
            "job runner started",
            runner=self.name,
            workers=self.settings.job_workers,
            worker=self.worker_id,
        )

    async def stop(self) -> None:
        """Give running jobs back to the queue (without counting the attempt) and stop."""
        self._stopping = True
        for active in self.executor.active.values():
            active.stop("shutdown")
        for _ in self._workers:  # wake the idle ones so they see _stopping
            self.notify()
        if self._reaper is not None:
            self._reaper.cancel()
        # The worker tasks finish their job's bookkeeping once the computations stop.
        if self._workers:
            _, pending = await asyncio.wait(self._workers, timeout=CANCEL_GRACE_S)
            for task in pending:
                task.cancel()
        await asyncio.gather(*self._workers, *filter(None, [self._reaper]), return_exceptions=True)
        self._workers, self._reaper = [], None
        self._pool.shutdown(wait=False, cancel_futures=True)

    def notify(self) -> None:
        self._wakeups.put_nowait(None)

    async def enqueue(self, job: Job) -> None:
        self.notify()

    def cancel(self, job_id: str) -> None:
        active = self.executor.active.get(job_id)
        if active is not None:
            active.stop("cancel")

    def describe(self) -> dict[str, Any]:
        return {
            "runner": self.name,
            "threads": self.settings.job_workers,
            "busy": len(self.executor.active),
            "worker": self.worker_id,
        }

    async def recover(self) -> None:
        for item in await recover_dead_jobs(self.repo, self.settings, self.worker_id):
            if item.status == "queued":
                self.notify()

    async def _work(self) -> None:
        while not self._stopping:
            try:
                claim = await self.repo.claim_next(self.worker_id)
            except Exception:
                log.warning("could not read the job queue", exc_info=True)
                claim = None
            if claim is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeups.get(), timeout=IDLE_POLL_S)
                continue
            await self.executor.run(claim)

    async def _reap(self) -> None:
        while True:
            await asyncio.sleep(max(self.settings.job_lease_s / 3, HEARTBEAT_S))
            try:
                await self.recover()
            except Exception:
                log.warning("job recovery pass failed", exc_info=True)
