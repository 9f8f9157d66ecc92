"""Async SQLAlchemy plumbing: one engine per service database, created and migrated on start."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, pool, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


_ALEMBIC_LOCK = threading.Lock()


def new_metadata() -> MetaData:
    """A MetaData with the project's constraint naming, so migrations name things predictably."""
    return MetaData(naming_convention=NAMING_CONVENTION)


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    """The plain ``postgresql://`` DSN asyncpg wants, from a SQLAlchemy URL."""
    return (
        make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)
    )


def create_engine(
    url: str, *, pool_size: int = 10, statement_timeout_ms: int | None = None
) -> AsyncEngine:
    """``statement_timeout_ms`` bounds every statement of this engine's connections (the APIs:
    a query a user shaped cannot keep the database busy after its caller gave up)."""
    server_settings = {}
    if statement_timeout_ms:
        server_settings["statement_timeout"] = str(statement_timeout_ms)
    return create_async_engine(
        url,
        connect_args={"server_settings": server_settings},
        # A fixed pool: a burst waits for a connection instead of opening more, so that all
        # processes of the platform together stay under PostgreSQL's max_connections (100).
        pool_size=pool_size,
        max_overflow=0,
        pool_pre_ping=True,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
    )


def _json_dumps(value: object) -> str:
    return orjson.dumps(value).decode()


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def create_reading_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for requests that only read: each statement runs on its own (autocommit), so a
    one-query read costs one round trip instead of three (BEGIN, the query, COMMIT). Not for
    reads that need several statements to see one snapshot."""
    return async_sessionmaker(
        engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
    )


@asynccontextmanager
async def transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """The unit of work at the edge: commit on success, roll back on any error."""
    async with sessions() as session, session.begin():
        yield session


def _admin_dsn(url: URL) -> str:
    """The server's ``postgres`` database, password kept (``str(url)`` masks it as ***)."""
    return asyncpg_dsn(url.set(database="postgres").render_as_string(hide_password=False))


async def ensure_database(database_url: str) -> None:
    """Create the service's database when it does not exist yet."""
    url = make_url(database_url)
    name = url.database
    if name is None:
        raise ValueError("database URL names no database")
    admin = await asyncpg.connect(_admin_dsn(url))
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            # Another replica may create it first.
            with contextlib.suppress(asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
                await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


async def drop_database(database_url: str) -> None:
    url = make_url(database_url)
    admin = await asyncpg.connect(_admin_dsn(url))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
    finally:
        await admin.close()


def alembic_config(migrations_dir: Path, database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


async def migrate(migrations_dir: Path, database_url: str) -> None:
    """Create the database if needed and bring it to the newest Alembic revision."""
    await ensure_database(database_url)
    config = alembic_config(migrations_dir, database_url)

    def upgrade() -> None:
        # Alembic keeps its migration context in a module global: one migration at a time
        # per process (several apps share a process in tests).
        with _ALEMBIC_LOCK:
            command.upgrade(config, "head")

    # Alembic's command API is synchronous and runs its own event loop in env.py.
    await asyncio.to_thread(upgrade)


def run_migrations_in_env(target_metadata: MetaData) -> None:
    """The body of every service's ``migrations/env.py``: online migrations over asyncpg."""
    from alembic import context

    url = context.config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("the Alembic configuration names no sqlalchemy.url")

    def run(connection: Connection) -> None:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            # Replicas starting together migrate one after the other.
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7237468)")
            context.run_migrations()

    async def run_async() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(run)
        await engine.dispose()

    asyncio.run(run_async())


# Autovacuum's rule for analysing a table: more rows changed than 50 plus a tenth of its size.
_STALE_TABLES = text(
    """
    SELECT s.relname
      FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
     WHERE s.n_mod_since_analyze > 50 + 0.1 * greatest(c.reltuples, 0)
     ORDER BY s.relname
    """
)


async def analyze_stale_tables(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    """ANALYZE this database's tables that changed by more than a tenth since they were last
    analysed; returns their names.

    A read model grows from empty to a million rows during a first import. Until its tables
    are analysed the planner believes them small, and a plan made then (a worker keeps its
    prepared statements, some of them with generic plans) scans whole tables for every batch.
    Autovacuum analyses them when it is on and keeps up; this does the same either way.
    ANALYZE also makes PostgreSQL re-plan the prepared statements that use the table.
    """
    async with sessions() as session:
        names: list[str] = list((await session.execute(_STALE_TABLES)).scalars())
    for name in names:
        async with sessions.begin() as session:
            quoted = name.replace('"', '""')
            await session.execute(text(f'ANALYZE "{quoted}"'))
    return names
