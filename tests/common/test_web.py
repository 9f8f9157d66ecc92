"""HTTP conventions shared by every service."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator

import httpx
from fastapi import APIRouter, FastAPI
from sqlalchemy import text

from relata_cli.tansu import free_port
from relata_common.db import create_engine, create_reading_sessionmaker
from relata_common.web import ReadingSessionDep, create_app

router = APIRouter()


@router.post("/echo")
async def echo(body: dict) -> dict:
    return {"size": len(str(body))}


@router.get("/unreachable-database")
async def unreachable_database() -> None:
    """A query against a port where no database listens."""
    engine = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nothing")
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()


@router.get("/bad-statement")
async def bad_statement() -> None:
    """A statement the database refuses: a bug, not an outage."""
    engine = create_engine(_DATABASE_URL)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT * FROM no_such_table"))
    finally:
        await engine.dispose()


# The tests' server (as tests/conftest.py finds it): a password may be needed to reach it.
_DATABASE_URL = (
    os.environ.get("CRM_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432")
    + "/postgres"
)


def _app():
    @contextlib.asynccontextmanager
    async def lifespan(_):
        yield

    return create_app(
        title="t",
        description="t",
        lifespan=lifespan,
        internal_token="secret",
        routers=[router],
        readiness=[],
        max_body_bytes=1000,
    )


async def _client() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=_app()),
        base_url="http://t",
        headers={"X-Internal-Token": "secret"},
    )


async def test_oversized_bodies_are_refused_with_413():
    async with await _client() as client:
        small = await client.post("/echo", json={"a": "x" * 100})
        assert small.status_code == 200
        large = await client.post("/echo", json={"a": "x" * 5000})
        assert large.status_code == 413
        assert large.json()["type"] == "payload_too_large"

        async def chunks():
            for _ in range(10):
                yield b"x" * 500

        streamed = await client.post(
            "/echo", content=chunks(), headers={"content-type": "application/json"}
        )
        assert streamed.status_code == 413


async def test_internal_token_and_correlation_id():
    async with await _client() as client:
        assert (
            await client.post("/echo", json={}, headers={"X-Internal-Token": "no"})
        ).status_code == 403
        response = await client.post("/echo", json={}, headers={"X-Correlation-ID": "abc"})
        assert response.headers["X-Correlation-ID"] == "abc"
        assert (await client.get("/health")).status_code == 200
        assert "relata_http_request_seconds" in (await client.get("/metrics")).text


async def test_an_unreachable_database_is_a_503_to_retry_and_a_bad_statement_stays_a_500():
    app = _app()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    headers = {"X-Internal-Token": "secret"}
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers) as c:
        unreachable = await c.get("/unreachable-database")
        assert unreachable.status_code == 503
        assert unreachable.headers["Retry-After"] == "1"
        assert unreachable.json()["type"] == "unavailable"
        assert (await c.get("/bad-statement")).status_code == 500


async def test_a_statement_over_the_api_timeout_is_a_503_with_retry_after(
    postgres_server: str,
) -> None:
    """Catches: API engines without a statement timeout (a query a user shaped running on
    after its caller gave up), or the cancelled statement answered as a 500."""
    engine = create_engine(f"{postgres_server}/postgres", pool_size=1, statement_timeout_ms=200)
    router = APIRouter()

    @router.get("/slow")
    async def slow(session: ReadingSessionDep) -> dict[str, int]:
        await session.execute(text("SELECT pg_sleep(2)"))
        return {"slept": 2}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.reading_sessions = create_reading_sessionmaker(engine)
        yield

    app = create_app(
        title="t", description="t", lifespan=lifespan, internal_token="t" * 32,
        routers=[router], readiness=[],
    )  # fmt: skip
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                answer = await client.get("/slow", headers={"X-Internal-Token": "t" * 32})
        assert answer.status_code == 503, answer.text
        assert answer.headers["Retry-After"]
    finally:
        await engine.dispose()
