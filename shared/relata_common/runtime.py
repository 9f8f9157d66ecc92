"""Process entrypoints every service shares: the API server, the outbox relay, event workers.

Each runs as its own process with ``/health``, ``/ready`` and ``/metrics``, so operators scale
them independently: API replicas freely, workers up to the partition count, relays as standbys.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from relata_common.db import (
    analyze_stale_tables,
    asyncpg_dsn,
    create_engine,
    create_reading_sessionmaker,
    create_sessionmaker,
    migrate,
)
from relata_common.inbox import prune_inbox
from relata_common.kafka import create_broker, create_producer, ensure_topics
from relata_common.logging import configure_logging, get_logger
from relata_common.outbox import OutboxRelay
from relata_common.settings import CommonSettings
from relata_common.web import RequestContextMiddleware, install_error_handlers, operations_router

log = get_logger(__name__)


def api_lifespan(settings: CommonSettings, migrations: Path) -> Callable:
    """Lifespan of a service API: migrate, open the engine, close it on the way out."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await migrate(migrations, settings.database_url)
        engine = create_engine(
            settings.database_url,
            pool_size=settings.database_pool_size,
            statement_timeout_ms=settings.api_statement_timeout_ms,
        )
        app.state.settings = settings
        app.state.engine = engine
        app.state.sessions = create_sessionmaker(engine)
        app.state.reading_sessions = create_reading_sessionmaker(engine)
        try:
            yield
        finally:
            await engine.dispose()

    return lifespan


def database_check(app: FastAPI) -> Callable[[], Awaitable[None]]:
    async def check() -> None:
        async with app.state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    return check


def background_app(
    title: str, run: Callable[[FastAPI], Awaitable[None]], checks: Sequence[tuple[str, Callable]]
) -> FastAPI:
    """An operations-only app (health, readiness, metrics) around a long-running task."""

    async def supervise(app: FastAPI) -> None:
        """Restart the task after a failure (the database or broker not up yet, say)."""
        delay = 1.0
        while True:
            try:
                await run(app)
                return
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.error("background task failed; restarting", task=title, error=repr(error))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(supervise(app), name=title)
        app.state.task = task
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = FastAPI(title=title, lifespan=lifespan)
    app.add_middleware(RequestContextMiddleware)
    install_error_handlers(app)

    async def task_alive() -> None:
        task: asyncio.Task = app.state.task
        if task.done():
            raise RuntimeError(f"stopped: {task.exception()!r}")

    app.include_router(operations_router([("task", task_alive), *checks]))
    return app


def relay_app(settings: CommonSettings, migrations: Path, topics: Sequence[str]) -> FastAPI:
    """The outbox relay of one service, as a process of its own."""
    state: dict[str, OutboxRelay] = {}

    async def run(_: FastAPI) -> None:
        await migrate(migrations, settings.database_url)

        async def create_topics() -> None:
            await ensure_topics(
                settings.kafka_bootstrap,
                topics,
                partitions=settings.topic_partitions,
                replication=settings.topic_replication,
            )

        await create_topics()
        producer = create_producer(settings)
        await producer.start()
        try:
            relay = OutboxRelay(
                asyncpg_dsn(settings.database_url), producer, ensure_topics=create_topics
            )
            state["relay"] = relay
            await relay.run()
        finally:
            await producer.stop()

    async def leader_or_standby() -> None:
        if "relay" not in state:
            raise RuntimeError("starting")
        if not state["relay"].is_leader:
            return  # a standby is ready too: it takes over when the leader goes

    return background_app(
        f"{settings.service_name} outbox relay", run, [("relay", leader_or_standby)]
    )


def worker_app(
    settings: CommonSettings,
    migrations: Path,
    topics: Sequence[str],
    build: Callable[[KafkaBroker, FastAPI], Awaitable[None]],
    tasks: Sequence[Callable[[FastAPI], Awaitable[None]]] = (),
) -> FastAPI:
    """An event worker: ``build`` registers its consumers on the broker, then it consumes.

    ``tasks`` run beside the consumers for as long as the worker does (a daily schedule, say).
    """

    async def run(app: FastAPI) -> None:
        await migrate(migrations, settings.database_url)
        await ensure_topics(
            settings.kafka_bootstrap,
            topics,
            partitions=settings.topic_partitions,
            replication=settings.topic_replication,
        )
        engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
        app.state.engine = engine
        app.state.sessions = create_sessionmaker(engine)
        producer = create_producer(settings)
        await producer.start()
        app.state.producer = producer
        broker = create_broker(settings)
        await build(broker, app)
        await broker.start()
        try:
            await asyncio.gather(
                asyncio.Event().wait(),
                keep_statistics(app),
                keep_inbox_pruned(app, settings),
                *(task(app) for task in tasks),
            )
        finally:
            await broker.stop()
            await producer.stop()
            await engine.dispose()

    return background_app(f"{settings.service_name} worker", run, [])


async def keep_inbox_pruned(app: FastAPI, settings: CommonSettings) -> None:
    """Prune the worker's inbox of rows older than the retention, every
    ``inbox_prune_seconds``; a database outage only skips a round."""
    while True:
        try:
            before = datetime.now(UTC) - timedelta(days=settings.inbox_retention_days)
            pruned = await prune_inbox(app.state.sessions, before)
            if pruned:
                log.info("inbox pruned", rows=pruned)
        except (SQLAlchemyError, OSError) as error:
            log.warning("inbox pruning skipped", error=repr(error))
        await asyncio.sleep(settings.inbox_prune_seconds)


STATISTICS_CHECK_SECONDS = 30.0


async def keep_statistics(app: FastAPI, every: float = STATISTICS_CHECK_SECONDS) -> None:
    """Keep the planner's statistics of the worker's database current (see
    :func:`relata_common.db.analyze_stale_tables`); a database outage only skips a round."""
    while True:
        await asyncio.sleep(every)
        try:
            analyzed = await analyze_stale_tables(app.state.sessions)
        except (SQLAlchemyError, OSError) as error:
            log.warning("statistics not refreshed", error=repr(error))
            continue
        if analyzed:
            log.info("tables analysed", tables=analyzed)


def serve(app: FastAPI, *, host: str, port: int, settings: CommonSettings) -> None:
    """Run an app under uvicorn with the project's logging."""
    configure_logging(
        settings.service_name,
        level=settings.log_level,
        json=settings.log_json,
        requests=settings.log_requests,
    )
    # Everything imported so far lives as long as the process. Frozen, it is left out of the
    # collector's full passes, which otherwise walk it again and again under load (a bulk
    # import spent about 40 % of its CPU in them).
    gc.freeze()
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)
