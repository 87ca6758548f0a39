"""Database access for datasets, jobs and results. Each method is one short transaction, or a
few statements that are each their own (``database.create_autocommit_sessionmaker``): reads, and
the acceptance of a job, whose reads need no isolation (datasets never change; a result recorded
meanwhile only means one computation more).

Job state changes are conditional updates (``WHERE status = ... AND worker = ...``), so that two
processes can never both start a job, and a worker whose job was taken from it (its lease expired)
cannot overwrite what happened since. That also makes them safe to send twice: every method runs
once more when its pooled connection turns out broken (``database.retry_on_disconnect``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, exists, func, insert, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from tda_backend.models.tables import Dataset, Job, Result, utcnow
from tda_backend.services.batching import Batches
from tda_backend.services.database import retry_on_disconnect
from tda_backend.services.errors import ConflictError, NotFoundError


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


@dataclass(frozen=True)
class Recovery:
    job_id: str
    status: str
    reason: str


@dataclass(frozen=True)
class Submission:
    """What ``Repository.submit`` did: the dataset and reusable result it read, and the job it
    inserted (None when ``make_job`` declined, or when the owner's cap refused it)."""

    dataset: Dataset
    reusable: Result | None
    job: Job | None
    over_limit: bool = False


@dataclass(frozen=True)
class _SubmitRequest:
    """The arguments of ``Repository.submit`` that each way of accepting a job reads."""

    data_id: str
    owner: str | None
    key_of: Callable[[Dataset], str]
    make_job: Callable[[Dataset, Result | None], Job | None]


@dataclass(frozen=True)
class Claim:
    """A job a worker has just started, with what it needs of its dataset."""

    job: Job
    data_kind: str


_CLAIMED = {
    "status": "running",
    "attempts": Job.attempts + 1,
    "progress": 0.0,
    "error": None,
}


def _rowcount(result: Any) -> int:
    return cast(CursorResult[Any], result).rowcount


_DATASETS, _JOBS, _RESULTS = Dataset.__table__, Job.__table__, Result.__table__
_SELECT_DATASET = select(_DATASETS).where(_DATASETS.c.id == bindparam("data_id"))
_SELECT_RESULT = select(_RESULTS).where(_RESULTS.c.key == bindparam("computed_key"))


def _any_of(column: Any, name: str, dialect: str) -> Any:
    """``column`` is one of the list bound to ``name``. On PostgreSQL ``= ANY(array)``: one
    statement (parsed and prepared once per connection) whatever the list's length; elsewhere
    ``IN (...)``, whose text has one parameter per item."""
    if dialect == "postgresql":
        return column == func.any(bindparam(name, type_=postgresql.ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


# A batch of submissions' datasets, and which of their computations' results exist, by dialect.
_SELECT_DATASETS = {
    dialect: select(_DATASETS).where(_any_of(_DATASETS.c.id, "data_ids", dialect))
    for dialect in ("postgresql", "sqlite")
}
_SELECT_COMPUTED = {
    dialect: select(_RESULTS.c.key).where(_any_of(_RESULTS.c.key, "computed_keys", dialect))
    for dialect in ("postgresql", "sqlite")
}
# A queued job, inserted unless the result of its computation exists already.
_INSERT_UNLESS_COMPUTED = insert(Job).from_select(
    [c.key for c in _JOBS.columns],
    select(*(bindparam(c.key, type_=c.type) for c in _JOBS.columns)).where(
        ~exists().where(_RESULTS.c.key == bindparam("computed_key"))
    ),
)

# A queued job started for a worker, returned with its dataset's kind (no row: not queued). A Core
# statement on a pooled connection: the ORM's session and bulk-update machinery around the same
# statement showed in the worker's profile under load.
_CLAIM = (
    update(cast(Table, _JOBS))
    .where(_JOBS.c.id == bindparam("claimed_id"), _JOBS.c.status == "queued")
    .values(
        worker=bindparam("claimed_by"),
        started_at=bindparam("claimed_at"),
        heartbeat_at=bindparam("claimed_at"),
        status="running",
        attempts=_JOBS.c.attempts + 1,
        progress=0.0,
        error=None,
    )
    .returning(
        *_JOBS.columns,
        select(_DATASETS.c.kind)
        .where(_DATASETS.c.id == _JOBS.c.data_id)
        .scalar_subquery()
        .label("claimed_data_kind"),
    )
)
_JOB_KEYS = [c.key for c in _JOBS.columns]


class Repository:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        autocommit: async_sessionmaker[AsyncSession] | None = None,
        connections: AsyncEngine | None = None,
    ) -> None:
        self._sessions = sessions
        # No BEGIN and COMMIT (or ROLLBACK) round trips around statements that need none.
        self._autocommit = autocommit or sessions
        # The same, for Core statements without an ORM session (the acceptance of a job).
        bind = self._autocommit.kw["bind"]
        self._connections: AsyncEngine = connections or bind
        # Submissions arriving while others are being accepted are accepted together next.
        self._accept_in_batches = Batches(self._accept_batch)

    async def prepare(self, connection: AsyncConnection) -> None:
        """Have ``connection`` ready for a submission's reads (compiled, and prepared on
        PostgreSQL) by reading, alone and in a batch, a dataset and a result that do not exist."""
        await connection.execute(_SELECT_DATASET, {"data_id": ""})
        dialect = connection.dialect.name
        await connection.execute(_SELECT_DATASETS[dialect], {"data_ids": [""]})
        await connection.execute(_SELECT_COMPUTED[dialect], {"computed_keys": [""]})

    # -- datasets -------------------------------------------------------------------------------

    async def add_dataset(self, dataset: Dataset) -> None:
        values = _row(dataset)

        async def insert() -> None:
            # A repeated insert (the first one committed, its answer lost) finds its own row.
            async with self._autocommit.begin() as session:
                await session.execute(_insert_ignoring_conflict(session, Dataset, values))

        await retry_on_disconnect(insert)

    async def get_dataset(
        self, data_id: str, owner: str | None, *, field: str = "data_id"
    ) -> Dataset:
        async def read() -> Dataset | None:
            async with self._autocommit() as session:
                return await session.get(Dataset, data_id)

        return _owned_dataset(await retry_on_disconnect(read), data_id, owner, field)

    # -- jobs -----------------------------------------------------------------------------------

    async def submit(
        self,
        data_id: str,
        owner: str | None,
        *,
        key_of: Callable[[Dataset], str],
        make_job: Callable[[Dataset, Result | None], Job | None],
        max_active: int = 0,
    ) -> Submission:
        """Accept a job: read the dataset (``data_id``, scoped to ``owner``) and the result its
        computation's key (``key_of``) names if one exists, and insert the job ``make_job`` builds
        from them. ``make_job`` returns None when it cannot decide without more work; nothing is
        inserted then.

        Two statements for a new computation: the dataset read, and the insert of the queued job
        ``make_job(dataset, None)`` gives, made conditional on the result's absence
        (``INSERT ... SELECT ... WHERE NOT EXISTS``), which is the only write. Where that insert
        finds the result, or ``make_job`` cannot decide without it, the result is read and the
        job ``make_job`` then gives is inserted. Core statements on a pooled connection: an ORM
        session's identity map and unit of work cost more than the statements here.

        With ``max_active`` > 0 and an owner, a queued job is refused (``over_limit``) when its
        owner would then have more than ``max_active`` queued or running jobs. The row is inserted
        first and counted with the others in one transaction: SQLite lets one writer in at a time
        and PostgreSQL is serialised per owner by an advisory lock, so processes submitting at
        once never exceed the cap together, and a refused job was never visible to a worker.
        """
        request = _SubmitRequest(data_id, owner, key_of, make_job)
        if max_active <= 0 or owner is None:
            return await self._accept_in_batches(request)
        inserting: list[bool] = []  # once the insert is sent, a second run could insert twice

        async def attempt() -> Submission:
            return await self._accept_capped(request, max_active, inserting)

        return await retry_on_disconnect(attempt, repeatable=lambda: not inserting)

    async def _accept_batch(
        self, requests: list[_SubmitRequest]
    ) -> list[Submission | BaseException]:
        """Accept the submissions that arrived together (see ``batching``): one alone as
        ``_accept`` does, several in three statements for all (``_accept_many``)."""
        if len(requests) == 1:
            return [await self._accept_alone(requests[0])]
        sent: list[bool] = []
        return await retry_on_disconnect(
            lambda: self._accept_many(requests, sent), repeatable=lambda: not sent
        )

    async def _accept_alone(self, request: _SubmitRequest) -> Submission | BaseException:
        inserting: list[bool] = []
        try:
            return await retry_on_disconnect(
                lambda: self._accept(request, inserting), repeatable=lambda: not inserting
            )
        except Exception as error:
            return error

    async def _accept_many(
        self, requests: list[_SubmitRequest], sent: list[bool]
    ) -> list[Submission | BaseException]:
        """Accept ``requests``: their datasets read in one statement, the results of their
        computations looked up in one, the new jobs inserted in one (one commit). A submission
        whose dataset is missing, or whose ``key_of`` or ``make_job`` raises, fails alone; one
        whose result exists, or for which ``make_job`` cannot decide without it, is then
        accepted alone (``_accept``)."""
        outcomes: list[Submission | BaseException | None] = [None] * len(requests)
        ready: list[tuple[int, Dataset, str, Job]] = []
        alone: list[int] = []
        async with self._connections.connect() as connection:
            rows = await connection.execute(
                _SELECT_DATASETS[connection.dialect.name],
                {"data_ids": sorted({r.data_id for r in requests})},
            )
            found = {row.id: row._mapping for row in rows}
            for i, request in enumerate(requests):
                try:
                    row = found.get(request.data_id)
                    dataset = _owned_dataset(
                        None if row is None else Dataset(**row),
                        request.data_id,
                        request.owner,
                        "data_id",
                    )
                    key = request.key_of(dataset)
                    job = request.make_job(dataset, None)
                except Exception as error:
                    outcomes[i] = error
                    continue
                if job is None:
                    alone.append(i)
                else:
                    ready.append((i, dataset, key, job))
            if ready:
                keys = sorted({key for _, _, key, _ in ready})
                computed = set(
                    (
                        await connection.scalars(
                            _SELECT_COMPUTED[connection.dialect.name], {"computed_keys": keys}
                        )
                    ).all()
                )
                alone.extend(i for i, _, key, _ in ready if key in computed)
                ready = [item for item in ready if item[2] not in computed]
            if ready:
                sent.append(True)
                await connection.execute(insert(Job), [_row(job) for _, _, _, job in ready])
                await connection.commit()
        for i, dataset, _, job in ready:
            outcomes[i] = Submission(dataset, None, job)
        for i in alone:
            outcomes[i] = await self._accept_alone(requests[i])
        return [cast(Submission | BaseException, outcome) for outcome in outcomes]

    async def _accept_capped(
        self, request: _SubmitRequest, max_active: int, inserting: list[bool]
    ) -> Submission:
        """``submit`` with a cap on its owner's active jobs (see there)."""
        async with self._sessions.begin() as session:
            dataset = _owned_dataset(
                await session.get(Dataset, request.data_id),
                request.data_id,
                request.owner,
                "data_id",
            )
            reusable = await session.get(Result, request.key_of(dataset))
            job = request.make_job(dataset, reusable)
            if job is None:
                return Submission(dataset, reusable, None)
            inserting.append(True)
            if job.status != "queued":
                session.add(job)
                await session.commit()
                return Submission(dataset, reusable, job)
            if session.get_bind().dialect.name == "postgresql":
                await session.execute(
                    select(func.pg_advisory_xact_lock(func.hashtext(f"jobs-of:{job.owner}")))
                )
            session.add(job)
            await session.flush()
            active = await session.scalar(
                select(func.count())
                .select_from(Job)
                .where(Job.owner == job.owner, Job.status.in_(("queued", "running")))
            )
            if int(active or 0) > max_active:
                # Detached first: the rollback would expire what the caller still reads.
                session.expunge_all()
                await session.rollback()
                return Submission(dataset, reusable, None, over_limit=True)
        return Submission(dataset, reusable, job)

    async def _accept(self, request: _SubmitRequest, inserting: list[bool]) -> Submission:
        """``submit`` without a cap (see there)."""
        async with self._connections.connect() as connection:
            found_row = await connection.execute(_SELECT_DATASET, {"data_id": request.data_id})
            row = found_row.first()
            found = None if row is None else Dataset(**row._mapping)
            dataset = _owned_dataset(found, request.data_id, request.owner, "data_id")
            key = request.key_of(dataset)
            job = request.make_job(dataset, None)
            if job is not None:
                inserting.append(True)
                inserted = await connection.execute(
                    _INSERT_UNLESS_COMPUTED, {**_row(job), "computed_key": key}
                )
                if _rowcount(inserted) == 1:
                    await connection.commit()
                    return Submission(dataset, None, job)
            row = (await connection.execute(_SELECT_RESULT, {"computed_key": key})).first()
            reusable = None if row is None else Result(**row._mapping)
            job = request.make_job(dataset, reusable)
            if job is None:
                return Submission(dataset, reusable, None)
            inserting.append(True)
            await connection.execute(insert(Job), _row(job))
            await connection.commit()
            return Submission(dataset, reusable, job)

    async def get_job(self, job_id: str, owner: str | None) -> Job:
        async def read() -> Job | None:
            async with self._autocommit() as session:
                return await session.get(Job, job_id)

        job = await retry_on_disconnect(read)
        if job is None or (owner is not None and job.owner != owner):
            raise NotFoundError(f"job_id: no job with id {job_id!r}")
        return job

    async def list_jobs(
        self, owner: str | None, status: str | None, limit: int, offset: int
    ) -> tuple[list[Job], int]:
        conditions = []
        if owner is not None:
            conditions.append(Job.owner == owner)
        if status is not None:
            conditions.append(Job.status == status)

        async def read() -> tuple[list[Job], int]:
            async with self._autocommit() as session:
                total = await session.scalar(
                    select(func.count()).select_from(Job).where(*conditions)
                )
                jobs = await session.scalars(
                    select(Job)
                    .where(*conditions)
                    .order_by(Job.created_at.desc(), Job.id.desc())
                    .limit(limit)
                    .offset(offset)
                )
                return list(jobs), int(total or 0)

        return await retry_on_disconnect(read)

    async def request_cancel(self, job_id: str, owner: str | None) -> Job:
        """Cancel a queued job at once; flag a running one for its worker. 409 when finished."""
        now = utcnow()

        async def cancel() -> Job:
            async with self._sessions.begin() as session:
                job = await session.get(Job, job_id)
                if job is None or (owner is not None and job.owner != owner):
                    raise NotFoundError(f"job_id: no job with id {job_id!r}")
                if job.status == "queued":
                    job.status, job.finished_at, job.cancel_requested = "cancelled", now, True
                elif job.status == "running":
                    job.cancel_requested = True
                elif job.status != "cancelled":
                    raise ConflictError(
                        f"job_id: job {job_id} has already {job.status}; nothing to cancel"
                    )
                return job

        return await retry_on_disconnect(cancel)

    async def claim_next(self, worker: str) -> Claim | None:
        """Start the oldest queued job for ``worker``; None when nothing is queued."""

        async def claim() -> Claim | None:
            async with self._sessions.begin() as session:
                candidates = await session.scalars(
                    select(Job.id)
                    .where(Job.status == "queued")
                    .order_by(Job.created_at, Job.id)
                    .limit(8)
                    .with_for_update(skip_locked=True)
                )
                for job_id in candidates:
                    claimed = await self._claim(session, job_id, worker)
                    if claimed is not None:
                        return claimed
            return None

        return await retry_on_disconnect(claim)

    async def claim(self, job_id: str, worker: str) -> Claim | None:
        """Start ``job_id`` for ``worker`` if it is still queued; None when it is not.

        One statement, its own transaction. Sent twice (the first answer lost with its
        connection), the second finds the job running and answers None: the job is then
        recovered when its lease expires, as if this worker had died."""

        async def claim() -> Claim | None:
            params = {"claimed_id": job_id, "claimed_by": worker, "claimed_at": utcnow()}
            async with self._connections.connect() as connection:
                row = (await connection.execute(_CLAIM, params)).first()
                await connection.commit()
            if row is None:
                return None
            values = row._mapping
            job = Job(**{key: values[key] for key in _JOB_KEYS})
            return Claim(job, values["claimed_data_kind"])

        return await retry_on_disconnect(claim)

    @staticmethod
    async def _claim(session: AsyncSession, job_id: str, worker: str) -> Claim | None:
        # The conditional update returns the claimed row and its dataset's kind (or no row).
        now = utcnow()
        kind = select(Dataset.kind).where(Dataset.id == Job.data_id).scalar_subquery()
        claimed = await session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == "queued")
            .values(worker=worker, started_at=now, heartbeat_at=now, **_CLAIMED)
            .returning(Job, kind),
            execution_options={"synchronize_session": False},
        )
        row = claimed.one_or_none()
        return None if row is None else Claim(row[0], row[1])

    async def queued_jobs(self, created_before: datetime, limit: int) -> list[tuple[str, int]]:
        """``(id, attempts)`` of the oldest queued jobs created before ``created_before``."""

        async def read() -> list[tuple[str, int]]:
            async with self._autocommit() as session:
                rows = await session.execute(
                    select(Job.id, Job.attempts)
                    .where(Job.status == "queued", Job.created_at < created_before)
                    .order_by(Job.created_at, Job.id)
                    .limit(limit)
                )
                return [(job_id, int(attempts)) for job_id, attempts in rows]

        return await retry_on_disconnect(read)

    async def heartbeat(self, job_id: str, worker: str, progress: float) -> bool | None:
        """Record liveness and progress. Returns whether a cancel was requested; None if the job
        is no longer this worker's. One statement."""

        async def touch() -> bool | None:
            async with self._autocommit.begin() as session:
                cancel_requested = await session.scalar(
                    update(Job)
                    .where(Job.id == job_id, Job.worker == worker, Job.status == "running")
                    .values(heartbeat_at=utcnow(), progress=progress)
                    .returning(Job.cancel_requested),
                    execution_options={"synchronize_session": False},
                )
            return None if cancel_requested is None else bool(cancel_requested)

        return await retry_on_disconnect(touch)

    async def finish(
        self,
        job_id: str,
        worker: str,
        status: str,
        error: str | None = None,
        *,
        result: Result | None = None,
    ) -> bool:
        """End ``worker``'s job with ``status``, recording ``result`` (if any) in the same
        transaction (on PostgreSQL, the same statement); False when the job is no longer this
        worker's (the result is kept: it is right whoever computed it). An identical result
        recorded meanwhile is as good."""
        values: dict[str, Any] = {"status": status, "error": error, "finished_at": utcnow()}
        if status == "succeeded":
            values["progress"] = 1.0
        row = None
        if result is not None:
            row = _row(result)

        # Core statements on a pooled connection (no ORM session around them).
        end = (
            update(cast(Table, _JOBS))
            .where(_JOBS.c.id == job_id, _JOBS.c.worker == worker, _JOBS.c.status == "running")
            .values(**values)
        )

        async def finish() -> bool:
            postgresql = self._connections.dialect.name == "postgresql"
            if row is None or postgresql:
                async with self._connections.connect() as connection:
                    if row is None:
                        done = await connection.execute(end)
                    else:
                        # One statement: the insert as a data-modifying WITH of the update.
                        insert = postgresql_insert(Result).values(**row).on_conflict_do_nothing()
                        done = await connection.execute(end.add_cte(insert.cte("result_row")))
                    await connection.commit()
                    return _rowcount(done) == 1
            async with self._sessions.begin() as session:
                insert = _insert_ignoring_conflict(session, Result, row)
                await session.execute(insert)
                return _rowcount(await session.execute(end)) == 1

        return await retry_on_disconnect(finish)

    async def requeue(self, job_id: str, worker: str, *, count_attempt: bool) -> bool:
        """Give a job back to the queue (its worker is shutting down)."""
        values: dict[str, Any] = {
            "status": "queued",
            "worker": None,
            "progress": 0.0,
            "started_at": None,
            "heartbeat_at": None,
        }
        if not count_attempt:
            values["attempts"] = Job.attempts - 1

        async def requeue() -> bool:
            async with self._autocommit.begin() as session:
                done = await session.execute(
                    update(Job)
                    .where(Job.id == job_id, Job.worker == worker, Job.status == "running")
                    .values(**values)
                )
                return _rowcount(done) == 1

        return await retry_on_disconnect(requeue)

    async def recover(
        self, *, is_dead: Callable[[str | None], bool], lease_s: float, max_attempts: int
    ) -> list[Recovery]:
        """Requeue (or fail, after ``max_attempts`` starts) running jobs whose worker is gone:
        its process is known dead, or its heartbeat is older than the lease."""
        now = utcnow()
        stale_before = now - timedelta(seconds=lease_s)

        async def recover() -> list[Recovery]:
            recovered: list[Recovery] = []
            async with self._sessions.begin() as session:
                running = await session.scalars(
                    select(Job).where(Job.status == "running").with_for_update(skip_locked=True)
                )
                for job in running:
                    heartbeat: datetime | None = job.heartbeat_at
                    if not (heartbeat is None or heartbeat < stale_before or is_dead(job.worker)):
                        continue
                    reason = f"its worker {job.worker} stopped during attempt {job.attempts}"
                    if job.cancel_requested:
                        job.status, job.finished_at = "cancelled", now
                    elif job.attempts >= max_attempts:
                        job.status, job.finished_at = "failed", now
                        job.error = (
                            f"{reason} of {max_attempts}; not retried again (JOB_MAX_ATTEMPTS)"
                        )
                    else:
                        job.status, job.progress = "queued", 0.0
                        job.started_at = job.heartbeat_at = None
                    job.worker = None
                    recovered.append(Recovery(job.id, job.status, reason))
            return recovered

        return await retry_on_disconnect(recover)

    async def job_counts(self) -> dict[tuple[str, str], int]:
        async def read() -> dict[tuple[str, str], int]:
            async with self._autocommit() as session:
                rows = await session.execute(
                    select(Job.algorithm, Job.status, func.count()).group_by(
                        Job.algorithm, Job.status
                    )
                )
                return {(algorithm, status): int(n) for algorithm, status, n in rows}

        return await retry_on_disconnect(read)

    # -- results --------------------------------------------------------------------------------

    async def find_result(self, key: str) -> Result | None:
        async def read() -> Result | None:
            async with self._autocommit() as session:
                return await session.get(Result, key)

        return await retry_on_disconnect(read)

    async def add_result(self, result: Result) -> None:
        """Record a result; an identical one recorded meanwhile by another job is as good."""
        row = _row(result)

        async def insert() -> None:
            async with self._autocommit.begin() as session:
                await session.execute(_insert_ignoring_conflict(session, Result, row))

        await retry_on_disconnect(insert)


def _row(record: Dataset | Result | Job) -> dict[str, Any]:
    """The column values of ``record`` for a Core insert, with the creation time the ORM would
    have given it (set on ``record`` too)."""
    row = {c.key: getattr(record, c.key) for c in record.__table__.columns}
    if row["created_at"] is None:
        row["created_at"] = record.created_at = utcnow()
    return row


def _insert_ignoring_conflict(
    session: AsyncSession, table: type[Dataset] | type[Result], values: dict[str, Any]
) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` of one row (an identical row there already)."""
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    return insert(table).values(**values).on_conflict_do_nothing()


def _owned_dataset(dataset: Dataset | None, data_id: str, owner: str | None, field: str) -> Dataset:
    if dataset is None or (owner is not None and dataset.owner != owner):
        raise NotFoundError(f"{field}: no data with id {data_id!r}")
    return dataset
