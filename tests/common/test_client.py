"""The one internal client: what every call carries, what its answers and failures become,
and the chunked relation lookup. The services here are small ASGI apps behind transports, as
tests reach real services in-process."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request, Response

from relata_cli.tansu import free_port
from relata_common.client import (
    LOOKUP_MAX,
    InternalClient,
    Upstream,
    UpstreamInvalidInput,
)
from relata_common.errors import ServiceUnavailable
from relata_common.events import Actor, ActorKind
from relata_common.logging import correlation_id_var
from relata_common.web import create_app

TOKEN = "secret"


def _service(name: str, seen: list[dict[str, Any]]) -> FastAPI:
    """A service behind the internal token that records what each call carried."""
    router = APIRouter()

    @router.api_route("/echo", methods=["GET", "POST", "PATCH"])
    async def echo(request: Request, response: Response) -> dict[str, Any]:
        seen.append(
            {
                "service": name,
                "headers": dict(request.headers),
                "body": await request.body(),
                "query": dict(request.query_params),
            }
        )
        response.headers["ETag"] = '"7"'
        return {"service": name}

    @router.get("/keys/{key}")
    async def key(key: str) -> dict[str, str]:
        return {"key": key}

    @router.get("/status/{code}")
    async def status(code: int) -> Response:
        body = b'{"detail": "refused here", "type": "conflict"}'
        if code == 422:
            body = b'{"detail": [{"loc": ["body", "city"], "msg": "too long", "type": "x"}]}'
        return Response(body, status_code=code, media_type="application/json")

    @router.post("/relations/lookup")
    async def lookup(body: dict[str, list[str]]) -> list[dict[str, str]]:
        seen.append({"service": name, "ids": body["ids"]})
        # The relations service leaves unknown ids out; here, ids ending in 0 are unknown.
        return [{"relation_id": i} for i in body["ids"] if not i.endswith("0")]

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI):
        yield

    return create_app(
        title=name,
        description=name,
        lifespan=lifespan,
        internal_token=TOKEN,
        routers=[router],
        readiness=[],
    )


@pytest.fixture
async def seen() -> list[dict[str, Any]]:
    return []


@pytest.fixture
async def client(seen: list[dict[str, Any]]):
    transports = {
        name: httpx.ASGITransport(app=_service(name, seen)) for name in ("relations", "lists")
    }
    urls = {"relations": "http://127.0.0.1:8001", "lists": "http://127.0.0.1:8003"}
    async with InternalClient(urls, TOKEN, timeout=5.0, transports=transports) as client:
        yield client


async def test_a_call_carries_token_correlation_actor_and_if_match(client, seen):
    marker = correlation_id_var.set("request-42")
    try:
        answer = await client.call(
            "lists",
            "PATCH",
            "/echo",
            json={"n": 1, "id": uuid.UUID(int=5)},
            params={"limit": 3},
            actor=Actor(kind=ActorKind.USER, id="u1"),
            if_match=4,
        )
    finally:
        correlation_id_var.reset(marker)
    assert answer.ok and answer.body == {"service": "lists"} and answer.version == 7
    headers = seen[0]["headers"]
    assert seen[0]["service"] == "lists"
    assert headers["x-internal-token"] == TOKEN
    assert headers["x-correlation-id"] == "request-42"
    assert (headers["x-actor-kind"], headers["x-actor-id"]) == ("user", "u1")
    assert headers["if-match"] == '"4"'
    assert headers["content-type"] == "application/json"
    assert seen[0]["body"] == b'{"n":1,"id":"00000000-0000-0000-0000-000000000005"}'
    assert seen[0]["query"] == {"limit": "3"}


async def test_a_path_with_any_text_in_it_reaches_the_service(client):
    """A client's path parameter is percent-encoded on the way, not a broken URL: text the
    service takes comes through as it was, and a control character reaches the service,
    which refuses it (422), instead of failing in the client. Catches: the path sent
    unquoted (httpx raises InvalidURL, which the gateway answered with a 500)."""
    text = "Zoë van der Wiel, 50%"
    answer = await client.call("relations", "GET", f"/keys/{text}")
    assert answer.body == {"key": text}
    refused = await client.call("relations", "GET", "/keys/a\x01b", refusals="return")
    assert refused.status == 422


async def test_outside_a_request_each_call_gets_an_id_of_its_own(client, seen):
    """A scheduled task has no correlation id: one per call, not kept for the next one."""
    await client.call("relations", "GET", "/echo")
    await client.call("relations", "GET", "/echo")
    first, second = (s["headers"]["x-correlation-id"] for s in seen)
    assert first != second
    assert correlation_id_var.get() is None


async def test_one_pool_reaches_each_service_at_its_own_address(client, seen):
    await client.service("relations").call("GET", "/echo")
    await client.service("lists").call("GET", "/echo")
    assert [s["service"] for s in seen] == ["relations", "lists"]
    with pytest.raises(ValueError, match="share the address"):
        InternalClient(
            {"a": "http://same:1", "b": "http://same:1"},
            TOKEN,
            timeout=1.0,
            transports={
                "a": httpx.ASGITransport(app=FastAPI()),
                "b": httpx.ASGITransport(app=FastAPI()),
            },
        )


async def test_refusals_are_passed_on_and_failures_are_unavailable(client):
    with pytest.raises(Upstream) as refused:
        await client.call("lists", "GET", "/status/409")
    assert refused.value.status_code == 409 and refused.value.message == "refused here"
    with pytest.raises(UpstreamInvalidInput) as invalid:
        await client.call("lists", "GET", "/status/422")
    assert invalid.value.errors == [{"loc": ["body", "city"], "msg": "too long", "type": "x"}]
    answer = await client.call("lists", "GET", "/status/404", refusals="return")
    assert answer.status == 404 and not answer.ok
    for path in ("/status/500", "/status/503"):
        with pytest.raises(ServiceUnavailable, match="the lists service failed"):
            await client.call("lists", "GET", path)


async def test_no_connection_or_no_answer_in_time_is_unavailable():
    async def never_answer(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)
        writer.close()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    urls = {"silent": f"http://127.0.0.1:{port}", "gone": f"http://127.0.0.1:{free_port()}"}
    try:
        async with InternalClient(urls, TOKEN, timeout=0.2) as client:
            with pytest.raises(ServiceUnavailable, match="the silent service did not answer"):
                await client.call("silent", "GET", "/anything")
            with pytest.raises(ServiceUnavailable, match="the gone service did not answer"):
                await client.call("gone", "GET", "/anything")
    finally:
        server.close()


async def test_an_unavailable_service_is_a_503_with_retry_after():
    """What a caller of a service gets when the service behind it failed."""
    router = APIRouter()

    @router.get("/composed")
    async def composed() -> None:
        urls = {"relations": f"http://127.0.0.1:{free_port()}"}
        async with InternalClient(urls, TOKEN, timeout=1.0) as c:
            await c.call("relations", "GET", "/x")

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI):
        yield

    app = create_app(
        title="t",
        description="t",
        lifespan=lifespan,
        internal_token=TOKEN,
        routers=[router],
        readiness=[],
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://t",
        headers={"X-Internal-Token": TOKEN},
    ) as caller:
        answer = await caller.get("/composed")
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "1"
    assert answer.json()["type"] == "service_unavailable"


async def test_lookups_go_a_thousand_ids_a_call(client, seen):
    ids = [uuid.UUID(int=i) for i in range(1, 2 * LOOKUP_MAX + 501)]
    states = await client.lookup_relations(ids, concurrency=2)
    calls = [s["ids"] for s in seen]
    # Two at a time, so they may arrive in any order; the answer keeps the order asked.
    assert sorted(len(c) for c in calls) == [500, 1000, 1000]
    assert sorted(i for c in calls for i in c) == [str(i) for i in ids]
    assert [s["relation_id"] for s in states] == [str(i) for i in ids if not str(i).endswith("0")]
    assert await client.lookup_relations([]) == []


async def test_a_refused_lookup_is_a_failure_of_the_relations_service():
    app = FastAPI()

    @app.post("/relations/lookup")
    async def refuse() -> Response:
        return Response(b'{"detail": "no"}', status_code=422, media_type="application/json")

    transports = {"relations": httpx.ASGITransport(app=app)}
    async with InternalClient(
        {"relations": "http://relations"}, TOKEN, timeout=1.0, transports=transports
    ) as client:
        with pytest.raises(ServiceUnavailable, match="lookup failed"):
            await client.lookup_relations([uuid.uuid4()])
