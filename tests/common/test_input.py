"""The edge's checks on every request, in an app of their own: control characters, unpaired
surrogates, integers beyond 64 bits and non-finite numbers are refused with a 422 naming where
they were; ordinary text (accents, line breaks, emoji) passes untouched."""

from __future__ import annotations

import contextlib
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from relata_common.web import create_app

TOKEN = "secret"


def _app() -> FastAPI:
    router = APIRouter()

    @router.post("/echo/{key}")
    async def echo(key: str, body: dict[str, Any], q: str = "") -> dict[str, Any]:
        return {"key": key, "q": q, "body": body}

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI):
        yield

    return create_app(
        title="t", description="t", lifespan=lifespan, internal_token=TOKEN,
        routers=[router], readiness=[],
    )  # fmt: skip


@pytest.fixture
async def client():
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(
        transport=transport, base_url="http://t", headers={"X-Internal-Token": TOKEN}
    ) as client:
        yield client


async def _raw(client: httpx.AsyncClient, body: str, path: str = "/echo/k") -> httpx.Response:
    return await client.post(
        path, content=body.encode(), headers={"Content-Type": "application/json"}
    )


async def test_ordinary_text_passes_untouched(client: httpx.AsyncClient) -> None:
    text = "Zoë van der Wiel\nRegel twee\t— 😀 €"
    answer = await client.post(
        "/echo/k", json={"name": text, "n": 2**63 - 1, "x": 1.5}, params={"q": "é"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["body"] == {"name": text, "n": 2**63 - 1, "x": 1.5}


@pytest.mark.parametrize(
    ("body", "loc", "why"),
    [
        ('{"name": "a\\u0000b"}', ["body", "name"], "U+0000"),
        ('{"a": [{"b": "x\\u001bx"}]}', ["body", "a", 0, "b"], "U+001B"),
        ('{"name": "\\ud800"}', ["body", "name"], "surrogate"),
        ('{"n": 9223372036854775808}', ["body", "n"], "64 bits"),
        ('{"n": -9223372036854775809}', ["body", "n"], "64 bits"),
        ('{"x": 1e400}', ["body", "x"], "not finite"),
        ('{"x": NaN}', ["body"], "NaN"),
        ('{"x": -Infinity}', ["body"], "Infinity"),
        ('{"bad\\u0007key": 1}', ["body"], "U+0007"),
    ],
)
async def test_a_body_value_no_api_takes_is_refused_naming_it(
    client: httpx.AsyncClient, body: str, loc: list[Any], why: str
) -> None:
    """Catches: any of these kinds let through to a route (PostgreSQL then fails on it, or
    the answer cannot be written as JSON: a 500)."""
    answer = await _raw(client, body)
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"][0]
    assert detail["loc"] == loc and why in detail["msg"], detail


async def test_the_path_and_query_are_checked_too(client: httpx.AsyncClient) -> None:
    in_path = await _raw(client, "{}", "/echo/a%00b")
    assert in_path.status_code == 422 and in_path.json()["detail"][0]["loc"] == ["path"]
    in_query = await client.post("/echo/k", json={}, params={"q": "x\x01"})
    assert in_query.status_code == 422
    assert in_query.json()["detail"][0]["loc"] == ["query", "q"]


async def test_malformed_json_is_left_to_the_route(client: httpx.AsyncClient) -> None:
    answer = await _raw(client, '{"name": ')
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["type"] == "json_invalid"
