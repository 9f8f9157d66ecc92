"""The relations service's processes: its HTTP API and its outbox relay."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from relata_common.events import RELATIONS_TOPIC
from relata_common.runtime import api_lifespan, database_check, relay_app
from relata_common.web import create_app
from relata_relations.api import ROUTERS
from relata_relations.settings import RelationsSettings, get_settings

MIGRATIONS = Path(__file__).parent / "migrations"
PUBLISHED_TOPICS = (RELATIONS_TOPIC,)


def create_api(settings: RelationsSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    checks: list = []
    app = create_app(
        title="Relata relations service",
        description="Persons and organisations, custom fields, functions, history and merges. "
        "Internal: every call needs the internal service token.",
        lifespan=api_lifespan(settings, MIGRATIONS),
        internal_token=settings.internal_token.get_secret_value(),
        routers=ROUTERS,
        readiness=checks,
        unlimited_paths=("/relations/import",),  # streamed, with a per-line limit
    )
    checks.append(("database", database_check(app)))
    return app


def create_relay(settings: RelationsSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return relay_app(settings, MIGRATIONS, PUBLISHED_TOPICS)
