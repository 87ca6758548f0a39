"""API keys kept in the database: created, listed and revoked with ``python -m tda_backend.cli
keys``, accepted by the server when ``API_KEYS_DB`` is set.

A key is 32 random bytes (URL-safe base64, prefixed ``tda_``); the database keeps only its SHA-256,
which is enough for keys this random (no dictionary to try), and the key is shown once. A key's
owner fingerprint is the first 32 hex digits of that digest, the same as for a key in ``API_KEYS``,
so moving a key between the two keeps its uploads and jobs.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tda_backend.models.tables import ApiKey, utcnow
from tda_backend.services.database import retry_on_disconnect


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def owner_of(key: str) -> str:
    """The owner fingerprint every upload, job and result of the key is recorded under."""
    return digest(key)[:32]


class KeyStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def create(self, name: str) -> tuple[ApiKey, str]:
        """A new key: its record and the key itself (not stored anywhere)."""
        key = "tda_" + secrets.token_urlsafe(32)
        record = ApiKey(id=f"key_{uuid.uuid4().hex[:16]}", name=name[:100], key_sha256=digest(key))
        async with self._sessions.begin() as session:
            session.add(record)
        return record, key

    async def revoke(self, key_id: str) -> bool:
        async with self._sessions.begin() as session:
            done = await session.execute(
                update(ApiKey)
                .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
            return bool(getattr(done, "rowcount", 0))

    async def list(self) -> list[ApiKey]:
        async with self._sessions() as session:
            return list(await session.scalars(select(ApiKey).order_by(ApiKey.created_at)))

    async def owner(self, key: str) -> str | None:
        """The owner of an active key; None when the key is unknown or revoked."""

        async def read() -> str | None:
            async with self._sessions() as session:
                return await session.scalar(
                    select(ApiKey.id).where(
                        ApiKey.key_sha256 == digest(key), ApiKey.revoked_at.is_(None)
                    )
                )

        found = await retry_on_disconnect(read)
        return owner_of(key) if found is not None else None
