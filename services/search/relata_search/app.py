"""The search service's process: API, index follower and (optionally) the event consumer.

The index lives in this process (tantivy: one writer per directory), so ``serve`` runs the API
together with the follower that keeps the index current. The consumer that writes the shared
read model runs in the same process by default; replicas may switch it off
(``CRM_RUN_CONSUMERS=false``) and just follow.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fastapi import FastAPI

from relata_common.db import asyncpg_dsn, create_engine, create_sessionmaker, migrate
from relata_common.kafka import create_producer
from relata_common.logging import get_logger
from relata_common.runtime import database_check
from relata_common.web import create_app
from relata_search.api import ROUTERS
from relata_search.consumers import ConsumerSupervisor
from relata_search.follower import IndexFollower
from relata_search.index import SearchIndex
from relata_search.settings import SearchSettings, get_settings

log = get_logger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


async def supervise(name: str, run: Callable[[], Awaitable[None]]) -> None:
    """Restart a long-running part after a failure (database or broker not up yet, say)."""
    delay = 0.5
    while True:
        try:
            await run()
            return
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.error("background task failed; restarting", task=name, error=repr(error))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


def search_lifespan(settings: SearchSettings) -> Callable:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await migrate(MIGRATIONS, settings.database_url)
        engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
        sessions = create_sessionmaker(engine)
        index = await asyncio.to_thread(
            SearchIndex, settings.index_dir, heap_mb=settings.index_writer_heap_mb
        )
        follower = IndexFollower(
            index,
            asyncpg_dsn(settings.database_url),
            settings.index_dir / "follower.json",
            poll_seconds=settings.follow_poll_seconds,
        )
        app.state.settings, app.state.engine, app.state.sessions = settings, engine, sessions
        app.state.index, app.state.follower = index, follower
        app.state.search_threads = ThreadPoolExecutor(
            settings.search_threads, thread_name_prefix="search"
        )
        tasks = [asyncio.create_task(supervise("follower", follower.run))]
        producer = None
        if settings.run_consumers:
            producer = create_producer(settings)  # for dead letters
            await producer.start()
            supervisor = ConsumerSupervisor(settings, sessions, producer)
            follower.on_generation_change = supervisor.switch_to
            tasks.append(asyncio.create_task(supervise("consumer", supervisor.run)))
        app.state.tasks = tasks
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if producer is not None:
                await producer.stop()
            await engine.dispose()
            app.state.search_threads.shutdown(wait=False, cancel_futures=True)

    return lifespan


def create_api(settings: SearchSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    checks: list = []
    app = create_app(
        title="Relata search service",
        description="Find relations as you type, within the views the caller names. "
        "Internal: every call needs the internal service token.",
        lifespan=search_lifespan(settings),
        internal_token=settings.internal_token.get_secret_value(),
        routers=ROUTERS,
        readiness=checks,
    )

    async def index_loaded() -> None:
        if not app.state.follower.caught_up.is_set():
            raise RuntimeError("the index is still loading")

    async def tasks_alive() -> None:
        for task in app.state.tasks:
            if task.done():
                raise RuntimeError(f"{task.get_name()} stopped")

    checks += [("database", database_check(app)), ("index", index_loaded), ("tasks", tasks_alive)]
    return app
