"""Alembic environment: runs the revisions over the async engine the service itself uses."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from tda_backend.models.tables import Base
from tda_backend.services.database import create_engine, is_sqlite, transactional

config = context.config
target_metadata = Base.metadata
_configured_url = config.get_main_option("sqlalchemy.url")
if _configured_url is None:
    raise RuntimeError("sqlalchemy.url is not set; run `python -m tda_backend.cli migrate`")
url: str = _configured_url
MIGRATION_LOCK_ID = 7_460_001  # an arbitrary constant of this project's own


def run_offline() -> None:
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=is_sqlite(url),
    )
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    # SQLite cannot ALTER most things in place: batch mode rebuilds tables when a revision needs it.
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    if connection.dialect.name == "postgresql":
        # Servers and workers starting together all migrate: one at a time, the others then
        # find the schema current. Released when the migration's transaction ends.
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_ID})")
    with context.begin_transaction():
        context.run_migrations()


async def run_online() -> None:
    engine = create_engine(url)
    try:
        # A transaction: the advisory lock lasts to its end, and a failed revision leaves nothing.
        async with transactional(engine).connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    asyncio.run(run_online())
