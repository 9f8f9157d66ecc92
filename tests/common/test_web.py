"""HTTP conventions shared by every service."""

from __future__ import annotations

import contextlib

import httpx
from fastapi import APIRouter

from relata_common.web import create_app

router = APIRouter()


@router.post("/echo")
async def echo(body: dict) -> dict:
    return {"size": len(str(body))}


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
