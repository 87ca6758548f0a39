"""Blobs in the database: the store of the production mode, readable from every host.

The ``BlobStore`` interface is synchronous because its callers run it on worker threads, beside
parsing and computing. Each call here runs its query on the service's event loop (the one that owns
the connection pool) and waits for the answer, so the pool, its limits and its reconnection after a
database restart are the ones every other query uses. Each query is one statement, sent without
BEGIN and COMMIT where the database allows (``database.create_autocommit_sessionmaker``), and sent
again once when its pooled connection turns out broken (``database.retry_on_disconnect``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tda_backend.models.tables import Blob, utcnow
from tda_backend.services.database import retry_on_disconnect
from tda_backend.services.storage import BlobNotFound, sha256_hex

T = TypeVar("T")

CALL_TIMEOUT_S = 120.0
_SELECT_DATA = select(Blob.data).where(Blob.sha256 == bindparam("blob_sha256"))


class DatabaseBlobStore:
    name = "database"

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], loop: asyncio.AbstractEventLoop
    ) -> None:
        """``sessions``: autocommit ones (``database.create_autocommit_sessionmaker``)."""
        self._sessions = sessions
        self._loop = loop
        # Core statements on the pool's connections: an ORM session per blob cost more than the
        # statement.
        self._engine = sessions.kw["bind"]
        insert = postgresql_insert if self._engine.dialect.name == "postgresql" else sqlite_insert
        self._insert: Any = (
            insert(Blob)
            .values(
                sha256=bindparam("blob_sha256"),
                data=bindparam("blob_data"),
                size_bytes=bindparam("blob_size"),
                created_at=bindparam("blob_created_at"),
            )
            .on_conflict_do_nothing(index_elements=[Blob.sha256])
        )

    def _call(self, work: Callable[[], Awaitable[T]]) -> T:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            # Waiting here would block the very loop that must run the query.
            raise RuntimeError("DatabaseBlobStore is called from a worker thread, not the loop")

        async def run() -> T:
            return await retry_on_disconnect(work)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(CALL_TIMEOUT_S)

    def put(self, data: bytes) -> str:
        digest = sha256_hex(data)

        values = {
            "blob_sha256": digest,
            "blob_data": data,
            "blob_size": len(data),
            "blob_created_at": utcnow(),
        }

        async def put() -> None:
            # Already stored (by anyone): the same bytes under the same name; nothing to do.
            async with self._engine.begin() as connection:
                await connection.execute(self._insert, values)

        self._call(put)
        return digest

    def get(self, sha256: str) -> bytes:
        async def get() -> bytes | None:
            async with self._engine.connect() as connection:
                found: bytes | None = await connection.scalar(_SELECT_DATA, {"blob_sha256": sha256})
                return found

        data = self._call(get)
        if data is None:
            raise BlobNotFound(sha256)
        return bytes(data)

    def exists(self, sha256: str) -> bool:
        return self._call(lambda: self._exists(sha256))

    def check(self) -> None:
        async def check() -> None:
            async with self._sessions() as session:
                await session.execute(select(Blob.sha256).limit(1))

        self._call(check)

    async def _exists(self, sha256: str) -> bool:
        async with self._sessions() as session:
            found = await session.scalar(select(Blob.sha256).where(Blob.sha256 == sha256))
        return found is not None
