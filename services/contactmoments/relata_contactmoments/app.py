"""The contact moments service's processes: its HTTP API, its event worker, its outbox relay."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from relata_common.events import CONTACTMOMENTS_TOPIC
from relata_common.runtime import api_lifespan, database_check, relay_app, worker_app
from relata_common.web import create_app
from relata_contactmoments.api import ROUTERS
from relata_contactmoments.consumers import CONSUMED_TOPICS, relations_consumer
from relata_contactmoments.settings import ContactMomentsSettings, get_settings

MIGRATIONS = Path(__file__).parent / "migrations"
PUBLISHED_TOPICS = (CONTACTMOMENTS_TOPIC,)


def create_api(settings: ContactMomentsSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    checks: list = []
    app = create_app(
        title="Relata contact moments service",
        description="Logged interactions with relations (phone, e-mail, visit, letter, meeting), "
        "their history, per-relation timelines and e-mail ingestion for mail-client add-ins. "
        "Internal: every call needs the internal service token.",
        lifespan=api_lifespan(settings, MIGRATIONS),
        internal_token=settings.internal_token.get_secret_value(),
        routers=ROUTERS,
        readiness=checks,
        unlimited_paths=("/contact-moments/email",),  # limited to 10 MB while streaming
    )
    checks.append(("database", database_check(app)))
    return app


def create_worker(settings: ContactMomentsSettings | None = None) -> FastAPI:
    settings = settings or get_settings()

    async def build(broker: KafkaBroker, app: FastAPI) -> None:
        consumer = relations_consumer(settings, app.state.sessions, app.state.producer)
        consumer.register(broker, description="merges, erasures and e-mail addresses of relations")

    return worker_app(settings, MIGRATIONS, (*CONSUMED_TOPICS, *PUBLISHED_TOPICS), build)


def create_relay(settings: ContactMomentsSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return relay_app(settings, MIGRATIONS, PUBLISHED_TOPICS)
