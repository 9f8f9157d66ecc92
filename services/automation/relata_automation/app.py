"""The automation service's processes: its HTTP API, its event worker and its outbox relay."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import httpx
from fastapi import FastAPI

from relata_automation.api import ROUTERS
from relata_automation.clients import open_services
from relata_automation.consumers import CONSUMED_TOPICS, executor, register
from relata_automation.settings import AutomationSettings, get_settings
from relata_common.events import AUTOMATION_TOPIC
from relata_common.runtime import api_lifespan, database_check, relay_app, worker_app
from relata_common.web import create_app

MIGRATIONS = Path(__file__).parent / "migrations"
PUBLISHED_TOPICS = (AUTOMATION_TOPIC,)

Transports = Mapping[str, httpx.AsyncBaseTransport]


def create_api(
    settings: AutomationSettings | None = None, transports: Transports | None = None
) -> FastAPI:
    """The API; ``transports`` reach the other services in-process (in tests)."""
    settings = settings or get_settings()
    database = api_lifespan(settings, MIGRATIONS)
    token = settings.internal_token.get_secret_value()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with (
            database(app),
            open_services(settings, transports) as services,
        ):
            app.state.services = services
            app.state.batches = {}
            app.state.bulk_runs = set()
            yield
            # Bulk edits still running stop here, marked interrupted while the database is open.
            for task in app.state.bulk_runs:
                task.cancel()
            await asyncio.gather(*app.state.bulk_runs, return_exceptions=True)

    checks: list = []
    app = create_app(
        title="Relata automation service",
        description="Duplicate detection, the review queue and merge rules; bulk edits with a "
        "dry run and undo; adjustment rules; generated properties. "
        "Internal: every call needs the internal service token.",
        lifespan=lifespan,
        internal_token=token,
        routers=ROUTERS,
        readiness=checks,
    )
    checks.append(("database", database_check(app)))
    return app


def create_worker(
    settings: AutomationSettings | None = None, transports: Transports | None = None
) -> FastAPI:
    settings = settings or get_settings()
    return worker_app(
        settings,
        MIGRATIONS,
        CONSUMED_TOPICS + PUBLISHED_TOPICS,
        register(settings),
        tasks=[executor(settings, transports)],
    )


def create_relay(settings: AutomationSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return relay_app(settings, MIGRATIONS, PUBLISHED_TOPICS)
