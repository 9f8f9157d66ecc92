"""The gateway's processes: the public API and its event worker."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from fastapi import FastAPI
from redis.asyncio import Redis

from relata_common.input import CleanInputMiddleware
from relata_common.runtime import api_lifespan, database_check, worker_app
from relata_common.web import (
    BodyLimitMiddleware,
    RequestContextMiddleware,
    install_error_handlers,
    operations_router,
)
from relata_gateway import openapi
from relata_gateway.activity import NewestActivity, retention
from relata_gateway.clients import build_services
from relata_gateway.consumers import CONSUMED_TOPICS, register
from relata_gateway.directory import Directory
from relata_gateway.routes import install as install_routes
from relata_gateway.routes.contact_moments import MAIL_PATH
from relata_gateway.settings import GatewaySettings, get_settings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_api(
    settings: GatewaySettings | None = None,
    transports: dict[str, httpx.AsyncBaseTransport] | None = None,
) -> FastAPI:
    """The public API. ``transports`` lets tests wire in-process services."""
    settings = settings or get_settings()
    database = api_lifespan(settings, MIGRATIONS)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with database(app):
            app.state.services = build_services(settings, transports)
            app.state.redis = Redis.from_url(settings.redis_url)
            app.state.directory = Directory(app.state.sessions, app.state.redis)
            app.state.newest_activity = NewestActivity(app.state.reading_sessions, app.state.redis)
            try:
                yield
            finally:
                await app.state.services.aclose()
                await app.state.redis.aclose()

    app = FastAPI(
        title="Relata CRM",
        description="The public API of Relata: log in, work in views, open relation cards, "
        "search, browse and filter lists, and see what changed. Every call needs a bearer "
        "access token (POST /auth/token) or an X-API-Key.",
        version="1",
        lifespan=lifespan,
    )
    # Raw e-mails are larger than any JSON body: that route reads them under a limit of its own.
    # Clean input checked inside the body limit (it reads the bodies the limit has bounded).
    app.add_middleware(CleanInputMiddleware, unchecked_bodies=(MAIL_PATH,))
    app.add_middleware(BodyLimitMiddleware, unlimited=(MAIL_PATH,))
    app.add_middleware(RequestContextMiddleware)
    install_error_handlers(app)
    install_routes(app)

    async def redis_check() -> None:
        await app.state.redis.ping()

    app.include_router(
        operations_router([("database", database_check(app)), ("redis", redis_check)])
    )
    openapi.install(app)
    return app


def create_worker(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    prune = retention(settings.activity_retention_days, settings.activity_prune_seconds)
    return worker_app(settings, MIGRATIONS, CONSUMED_TOPICS, register(settings), tasks=[prune])
