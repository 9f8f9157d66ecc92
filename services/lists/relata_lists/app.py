"""The lists service's processes: its HTTP API, its event worker and its outbox relay."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import httpx
from fastapi import FastAPI

from relata_common.client import InternalClient
from relata_common.events import LIST_MEMBERSHIP_TOPIC, LISTS_TOPIC
from relata_common.runtime import api_lifespan, database_check, relay_app, worker_app
from relata_common.web import create_app
from relata_lists.api import ROUTERS
from relata_lists.consumers import CONSUMED_TOPICS, daily_schedule, register
from relata_lists.custom_fields import CustomFieldSource
from relata_lists.settings import ListsSettings, get_settings

MIGRATIONS = Path(__file__).parent / "migrations"
PUBLISHED_TOPICS = (LISTS_TOPIC, LIST_MEMBERSHIP_TOPIC)
CUSTOM_FIELDS_TIMEOUT = 2.0


def create_api(
    settings: ListsSettings | None = None,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
) -> FastAPI:
    """The API; ``transports`` reach the relations service (in-process in tests)."""
    settings = settings or get_settings()
    database = api_lifespan(settings, MIGRATIONS)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Custom field definitions for the catalogue: a short wait, the catalogue goes on
        # without them when the relations service does not answer.
        client = InternalClient.from_settings(
            settings, ("relations",), timeout=CUSTOM_FIELDS_TIMEOUT, transports=transports
        )
        async with database(app), client:
            app.state.custom_fields = CustomFieldSource(client)
            yield

    checks: list = []
    app = create_app(
        title="Relata lists service",
        description="Filters, relation lists with self-updating membership, ad-hoc evaluation. "
        "Internal: every call needs the internal service token.",
        lifespan=lifespan,
        internal_token=settings.internal_token.get_secret_value(),
        routers=ROUTERS,
        readiness=checks,
    )
    checks.append(("database", database_check(app)))
    return app


def create_worker(settings: ListsSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return worker_app(
        settings,
        MIGRATIONS,
        CONSUMED_TOPICS + PUBLISHED_TOPICS,
        register(settings),
        tasks=[daily_schedule],
    )


def create_relay(settings: ListsSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return relay_app(settings, MIGRATIONS, PUBLISHED_TOPICS)
