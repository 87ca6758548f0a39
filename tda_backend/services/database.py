"""The database: async engine, sessions, and schema migrations (Alembic).

SQLite (the embedded default) is opened in WAL mode with a busy timeout, and every transaction
starts with ``BEGIN IMMEDIATE``: read-then-write transactions from several connections (and several
processes) then wait for each other instead of failing with "database is locked".

PostgreSQL connections run each statement as its own transaction (autocommit: no BEGIN and
COMMIT round trips) unless taken through ``transactional(engine)``, as the sessions of
``create_sessionmaker`` are. Autocommit is the connections' own setting, made once when each is
opened: SQLAlchemy's per-use isolation option (``execution_options(isolation_level=...)``) would
set and reset it at every checkout and dispatch engine events around every statement, which
showed in the API's CPU per submission; it is left to the transactional work, which is rarer.

Pooled PostgreSQL connections are not tested as they are taken from the pool (a pre-ping costs
three round trips on asyncpg: BEGIN, a ping, ROLLBACK). A connection a database restart broke fails
its first statement instead; SQLAlchemy then replaces every connection of the pool, and the work is
run once more (``retry_on_disconnect``), so that a recovered database costs no request an error.
"""

from __future__ import annotations

import asyncio
import fcntl
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000

T = TypeVar("T")


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, pool_size: int = 5, max_overflow: int = 10) -> AsyncEngine:
    """A pool per process, without pre-ping (see ``retry_on_disconnect``); on PostgreSQL its
    connections are in autocommit mode (see ``transactional``)."""
    if not is_sqlite(url):
        return create_async_engine(
            url, pool_size=pool_size, max_overflow=max_overflow, isolation_level="AUTOCOMMIT"
        )
    sqlite_path = make_url(url).database
    if sqlite_path:
        Path(sqlite_path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide where transactions begin (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def transactional(engine: AsyncEngine) -> AsyncEngine:
    """``engine`` (from ``create_engine``) with transactions: on PostgreSQL, its connections
    leave autocommit while taken through this (READ COMMITTED, PostgreSQL's default) and return
    to it when given back. SQLite's transactions are always on (``BEGIN IMMEDIATE``, above)."""
    if engine.dialect.name == "sqlite":
        return engine
    return engine.execution_options(isolation_level="READ COMMITTED")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions with transactions on ``engine`` (from ``create_engine``)."""
    return async_sessionmaker(transactional(engine), expire_on_commit=False)


def create_autocommit_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions on ``engine``'s autocommit connections, for work that needs no transaction: on
    PostgreSQL that saves the BEGIN and COMMIT (or ROLLBACK) round trips. SQLite keeps its
    transactions and these sessions' callers commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


def is_disconnect(exc: BaseException) -> bool:
    """``exc`` says the connection it ran on was broken (and the pool has been renewed)."""
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


async def retry_on_disconnect(
    work: Callable[[], Awaitable[T]], *, repeatable: Callable[[], bool] | None = None
) -> T:
    """Run ``work``, and once more when it failed on a connection that was broken (a database
    restart since it was pooled): the failure made the pool replace its connections, so the second
    run gets a fresh one, and a database that is really down fails it again. ``work`` must be safe
    to run twice: a read, or a write whose repetition changes nothing (conditional updates, inserts
    that ignore a conflict) or that was not sent yet; ``repeatable``, when given, says after the
    failure whether that still holds (False: the error is raised)."""
    try:
        return await work()
    except Exception as exc:
        if not is_disconnect(exc) or (repeatable is not None and not repeatable()):
            raise
    return await work()


async def ping(engine: AsyncEngine) -> None:
    async def select_one() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    await retry_on_disconnect(select_one)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation would read a '%' in a password as a reference.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@contextmanager
def _migration_lock(url: str) -> Iterator[None]:
    """Serialize migrations of one SQLite file by several processes starting at once."""
    database = make_url(url).database if is_sqlite(url) else None
    if not database:
        yield
        return
    lock_path = Path(database).with_name(Path(database).name + ".migrate.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema to ``revision``. Synchronous; runs its own event loop."""
    with _migration_lock(url):
        command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    with _migration_lock(url):
        command.downgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    async def read() -> str | None:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                exists = await connection.run_sync(
                    lambda c: c.dialect.has_table(c, "alembic_version")
                )
                if not exists:
                    return None
                row = (
                    await connection.execute(text("SELECT version_num FROM alembic_version"))
                ).first()
                return None if row is None else str(row[0])
        finally:
            await engine.dispose()

    return asyncio.run(read())


async def upgrade_async(url: str) -> None:
    """``upgrade`` from inside a running event loop (Alembic's env runs a loop of its own)."""
    await asyncio.to_thread(upgrade, url)
