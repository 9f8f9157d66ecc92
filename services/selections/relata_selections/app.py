"""The selections service's processes: its HTTP API, its event worker and its outbox relay."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import httpx
from fastapi import FastAPI

from relata_common.events import SELECTIONS_TOPIC
from relata_common.runtime import api_lifespan, database_check, relay_app, worker_app
from relata_common.web import create_app
from relata_selections.api import ROUTERS
from relata_selections.consumers import (
    CONSUMED_TOPICS,
    daily_schedule,
    internal_client,
    register,
)
from relata_selections.directory import RelationsDirectory
from relata_selections.settings import SelectionsSettings, get_settings
from relata_selections.sources import ListsSource

MIGRATIONS = Path(__file__).parent / "migrations"
PUBLISHED_TOPICS = (SELECTIONS_TOPIC,)


Transports = Mapping[str, httpx.AsyncBaseTransport]


def create_api(
    settings: SelectionsSettings | None = None, transports: Transports | None = None
) -> FastAPI:
    """The API; ``transports`` reach the lists and relations services (in-process in tests)."""
    settings = settings or get_settings()
    database = api_lifespan(settings, MIGRATIONS)
    token = settings.internal_token.get_secret_value()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with database(app), internal_client(settings, transports) as client:
            app.state.lists = ListsSource(client)
            app.state.relations = RelationsDirectory(client)
            yield

    checks: list = []
    app = create_app(
        title="Relata selections service",
        description="Frozen sets of relations for mailings, taken from a relation list, a filter "
        "or by hand; refreshes with their history; CSV export. "
        "Internal: every call needs the internal service token.",
        lifespan=lifespan,
        internal_token=token,
        routers=ROUTERS,
        readiness=checks,
    )
    checks.append(("database", database_check(app)))
    return app


def create_worker(
    settings: SelectionsSettings | None = None, transports: Transports | None = None
) -> FastAPI:
    settings = settings or get_settings()
    return worker_app(
        settings,
        MIGRATIONS,
        CONSUMED_TOPICS + PUBLISHED_TOPICS,
        register(settings),
        tasks=[daily_schedule(settings, transports)],
    )


def create_relay(settings: SelectionsSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return relay_app(settings, MIGRATIONS, PUBLISHED_TOPICS)
