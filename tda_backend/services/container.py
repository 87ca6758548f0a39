"""Assembling the services from the settings, and taking them down again.

Which implementation of each part is used is decided here and only here: the embedded default
(SQLite file, blob directory, in-memory cache, in-process runner) or, when configured, the
production ones.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tda_backend.config import Settings
from tda_backend.services import database
from tda_backend.services.cache import Cache, MemoryCache
from tda_backend.services.datasets import DatasetService
from tda_backend.services.jobs import EmbeddedRunner, JobRunner, Submitter
from tda_backend.services.repository import Repository
from tda_backend.services.results import ResultService
from tda_backend.services.storage import BlobStore, FileBlobStore
from tda_backend.services.telemetry import get_logger

log = get_logger(__name__)


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

    @classmethod
    async def start(cls, settings: Settings, *, run_workers: bool = True) -> Services:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        url = settings.resolved_database_url
        if settings.embedded_database:
            await database.upgrade_async(url)
        engine = database.create_engine(url)
        sessions = database.create_sessionmaker(engine)
        repo = Repository(sessions)
        blobs = FileBlobStore(settings.blob_dir)
        blobs.remove_stale_temporaries()
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
        )
        if run_workers:
            await runner.start()
        log.info(
            "services started",
            database=engine.url.render_as_string(hide_password=True),
            data_dir=str(settings.data_dir.resolve()),
            runner=runner.name,
            cache=cache.name,
        )
        return services

    async def stop(self) -> None:
        await self.runner.stop()
        await self.engine.dispose()
        if self.settings.kafka_bootstrap_servers is not None:
            from tda_backend.kafka.producer import close_publishers

            await asyncio.to_thread(close_publishers)
