"""Assembling the services from the settings, and taking them down again.

Which implementation of each part is used is decided here and only here: the embedded default
(SQLite file, blob directory, in-memory cache, in-process runner) or, when configured, the
production ones: ``DATABASE_URL`` (PostgreSQL) also moves the blobs into the database, where every
host reads them (``BLOB_STORE`` overrides that); ``REDIS_URL`` brings the Redis cache and the Redis
job queue, on which servers only enqueue and ``tda-worker`` processes compute.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Literal

from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tda_backend.config import Settings
from tda_backend.services import database
from tda_backend.services.cache import Cache, MemoryCache, RedisCache
from tda_backend.services.datasets import DatasetService
from tda_backend.services.jobs import EmbeddedRunner, JobRunner, Submitter
from tda_backend.services.queue import QueueRunner, connect
from tda_backend.services.repository import Repository
from tda_backend.services.results import ResultService
from tda_backend.services.storage import BlobStore, FileBlobStore
from tda_backend.services.storage_database import DatabaseBlobStore
from tda_backend.services.telemetry import get_logger

log = get_logger(__name__)

_OPEN_TIMEOUT_S = 5.0


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    repo: Repository
    blobs: BlobStore
    cache: Cache
    runner: JobRunner
    datasets: DatasetService
    submitter: Submitter
    results: ResultService
    redis: ArqRedis | None = None

    @classmethod
    async def start(
        cls,
        settings: Settings,
        *,
        run_workers: bool = True,
        role: Literal["server", "worker"] = "server",
    ) -> Services:
        """``role`` matters with a Redis queue only: servers enqueue, workers compute."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        url = settings.resolved_database_url
        if settings.embedded_database:
            await database.upgrade_async(url)
        engine = database.create_engine(
            url,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
        )
        sessions = database.create_sessionmaker(engine)
        autocommit = database.create_autocommit_sessionmaker(engine)
        repo = Repository(sessions, autocommit, engine)
        blobs: BlobStore
        if settings.blobs_in_database:
            blobs = DatabaseBlobStore(autocommit, asyncio.get_running_loop())
        else:
            files = FileBlobStore(settings.blob_dir)
            files.remove_stale_temporaries()
            blobs = files
        redis: ArqRedis | None = None
        cache: Cache
        runner: JobRunner
        if settings.redis_url is not None:
            redis = connect(settings)
            cache = RedisCache(redis, settings.redis_prefix, settings.cache_ttl_s)
            runner = QueueRunner(settings, repo, blobs, cache, redis, consume=role == "worker")
        else:
            cache = MemoryCache(settings.cache_max_items)
            runner = EmbeddedRunner(settings, repo, blobs, cache)
        services = cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            repo=repo,
            blobs=blobs,
            cache=cache,
            runner=runner,
            datasets=DatasetService(settings, repo, blobs),
            submitter=Submitter(settings, repo, blobs, runner),
            results=ResultService(repo, blobs, cache),
            redis=redis,
        )
        if run_workers:
            await runner.start()
        await services.open_connections()
        log.info(
            "services started",
            database=engine.url.render_as_string(hide_password=True),
            data_dir=str(settings.data_dir.resolve()),
            runner=runner.name,
            cache=cache.name,
            blobs=blobs.name,
        )
        return services

    async def open_connections(self) -> None:
        """Open the database pool's connections (``DATABASE_POOL_SIZE``) and as many to Redis,
        and load the queue's scripts, before the first request rather than during it.

        Pools open connections when first needed: a burst of clients on a just-started process
        otherwise waits for every connection to be opened, authenticated and set up, each
        statement prepared and each script loaded (in a probe, 16 submissions at once: 107 to
        236 ms for the first burst after start-up, 19 to 76 ms for the next). A server keeps
        starting, and reports the service as degraded, when PostgreSQL or Redis is down: this
        waits at most ``_OPEN_TIMEOUT_S`` and gives up quietly.
        """
        count = self.settings.database_pool_size
        try:
            await asyncio.wait_for(self._open_connections(count), _OPEN_TIMEOUT_S)
        except Exception as error:  # a warm-up: the requests open what is missing
            log.info("connections not opened ahead of requests", error=repr(error))

    async def _open_connections(self, count: int) -> None:
        if self.engine.dialect.name == "sqlite":
            count = 1  # one file: SQLite's pool opens its connection per use anyway
        all_open = asyncio.Barrier(count)

        async def hold() -> None:
            # Each task keeps its connection until all are open, so that the pool opens `count`
            # of them rather than handing the first one back `count` times.
            try:
                async with self.engine.connect() as connection:
                    await self.repo.prepare(connection)
                    await all_open.wait()
            except BaseException:
                await all_open.abort()  # the others stop waiting too
                raise

        tasks: list[Awaitable[object]] = [hold() for _ in range(count)]
        if self.redis is not None:
            tasks.extend(self.redis.ping() for _ in range(count))
        if isinstance(self.runner, QueueRunner):
            tasks.append(self.runner.load_scripts())
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        failed = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        if failed:
            raise failed[0]

    async def stop(self) -> None:
        await self.runner.stop()
        if self.redis is not None:
            await self.redis.aclose(close_connection_pool=True)
        await self.engine.dispose()
        if self.settings.kafka_bootstrap_servers is not None:
            from tda_backend.kafka.producer import close_publishers

            await asyncio.to_thread(close_publishers)
