"""The gateway in front of in-process services on one broker, PostgreSQL and Redis.

Every service the gateway calls runs in-process: relations (API + relay), lists (API + worker +
relay), contact moments (API + worker + relay) and search (API, index follower and consumer in
one app). Each has a database of its own; search keeps its index under ``tmp_path``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from relata_common.db import drop_database, ensure_database
from relata_common.kafka import consumer_group
from relata_contactmoments.app import create_api as create_cm_api
from relata_contactmoments.app import create_relay as create_cm_relay
from relata_contactmoments.app import create_worker as create_cm_worker
from relata_contactmoments.consumers import CONSUMED_TOPICS as CM_TOPICS
from relata_contactmoments.settings import ContactMomentsSettings
from relata_gateway.app import create_api, create_worker
from relata_gateway.cli import ensure_user
from relata_gateway.consumers import CONSUMED_TOPICS
from relata_gateway.settings import GatewaySettings
from relata_search.app import create_api as create_search_api
from relata_search.settings import SearchSettings
from tests.helpers import start_group_at_end
from tests.lists.conftest import (  # noqa: F401 - fixtures used through pytest
    lists_api,
    lists_database,
    lists_settings,
    lists_worker,
    platform,
)
from tests.relations.fixtures import INTERNAL_TOKEN

ADMIN_PASSWORD = "admin-password-123"
INTERNAL = {"X-Internal-Token": INTERNAL_TOKEN}


async def _fresh_database(postgres_server: str, prefix: str) -> AsyncIterator[str]:
    name = f"relata_test_{prefix}_{uuid.uuid4().hex[:12]}"
    await ensure_database(f"{postgres_server}/{name}")
    yield name
    await drop_database(f"{postgres_server}/{name}")


@pytest.fixture
async def gateway_database(postgres_server: str) -> AsyncIterator[str]:
    async for name in _fresh_database(postgres_server, "gateway"):
        yield name


@pytest.fixture
async def cm_database(postgres_server: str) -> AsyncIterator[str]:
    async for name in _fresh_database(postgres_server, "cm"):
        yield name


@pytest.fixture
async def search_database(postgres_server: str) -> AsyncIterator[str]:
    async for name in _fresh_database(postgres_server, "search"):
        yield name


class Switchable(httpx.AsyncBaseTransport):
    """A service transport a test can take down (every call then fails to connect); it keeps
    the method and path of every call, for tests that count them."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.down = False
        self.calls: list[tuple[str, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((request.method, request.url.path))
        if self.down:
            raise httpx.ConnectError("service down (test)", request=request)
        return await self.inner.handle_async_request(request)


def _client(app, base_url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=base_url,
        headers={**INTERNAL, "X-Actor-Kind": "user", "X-Actor-Id": "u1"},
    )


@pytest.fixture
async def cm_api(
    postgres_server: str, kafka_bootstrap: str, cm_database: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The contact moments API, worker and relay, in-process on their own database."""
    settings = ContactMomentsSettings(
        postgres_url=postgres_server,
        database_name=cm_database,
        kafka_bootstrap=kafka_bootstrap,
        internal_token=INTERNAL_TOKEN,
        consumer_group=f"contactmoments-{cm_database}",
    )
    await start_group_at_end(kafka_bootstrap, settings.consumer_group, CM_TOPICS)
    async with (
        LifespanManager(create_cm_api(settings)) as manager,
        LifespanManager(create_cm_worker(settings)),
        LifespanManager(create_cm_relay(settings)),
        _client(manager.app, "http://contactmoments") as client,
    ):
        yield client


@pytest.fixture
async def search_api(
    postgres_server: str, kafka_bootstrap: str, search_database: str, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """The search service (API, index follower and consumer: one app), index in tmp_path."""
    settings = SearchSettings(
        postgres_url=postgres_server,
        database_name=search_database,
        kafka_bootstrap=kafka_bootstrap,
        internal_token=INTERNAL_TOKEN,
        consumer_group=f"search-{search_database}",
        index_dir=tmp_path / "search-index",
        follow_poll_seconds=0.5,
    )
    async with (
        LifespanManager(create_search_api(settings), startup_timeout=60) as manager,
        _client(manager.app, "http://search") as client,
    ):
        yield client


@pytest.fixture
def gateway_settings(
    postgres_server: str, kafka_bootstrap: str, gateway_database: str, infrastructure
) -> GatewaySettings:
    return GatewaySettings(
        postgres_url=postgres_server,
        database_name=gateway_database,
        kafka_bootstrap=kafka_bootstrap,
        redis_url=infrastructure.redis_url,
        internal_token=INTERNAL_TOKEN,
        call_timeout=1.0,
        consumer_group_suffix=f"-{gateway_database}",
    )


@pytest.fixture
def transports() -> dict[str, Switchable]:
    """The gateway's transports to the services, by service name (filled by ``gateway``)."""
    return {}


@pytest.fixture
def extra_services() -> dict[str, httpx.AsyncClient]:
    """Services beyond the four every gateway test has (a module may add selections)."""
    return {}


@pytest.fixture
async def gateway(
    gateway_settings: GatewaySettings,
    extra_services: dict[str, httpx.AsyncClient],
    redis_client,
    relations_api: httpx.AsyncClient,
    relations_relay: None,
    lists_api: httpx.AsyncClient,  # noqa: F811
    lists_worker: None,  # noqa: F811
    cm_api: httpx.AsyncClient,
    search_api: httpx.AsyncClient,
    transports: dict[str, Switchable],
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[httpx.AsyncClient]:
    """The public gateway API (and its worker), wired to the in-process services."""
    # Requested so that the gateway's Redis database is flushed and the relations relay and
    # lists worker run: the gateway's cards and feed follow their events.
    del redis_client, relations_relay, lists_worker
    monkeypatch.setenv("CRM_POSTGRES_URL", gateway_settings.postgres_url)
    monkeypatch.setenv("CRM_DATABASE_NAME", gateway_settings.database_name)
    from relata_gateway.settings import get_settings

    get_settings.cache_clear()
    await ensure_user("admin", ADMIN_PASSWORD, "admin", "Administrator")
    get_settings.cache_clear()
    services = {
        "relations": relations_api,
        "lists": lists_api,
        "contactmoments": cm_api,
        "search": search_api,
        **extra_services,
    }
    transports.update({name: Switchable(c._transport) for name, c in services.items()})
    app = create_api(gateway_settings, transports=dict(transports))
    group = consumer_group(gateway_settings, "gateway")
    await start_group_at_end(gateway_settings.kafka_bootstrap, group, CONSUMED_TOPICS)
    async with (
        LifespanManager(app) as manager,
        LifespanManager(create_worker(gateway_settings)),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://gateway"
        ) as client,
    ):
        yield client


async def log_in(client: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    response = await client.post("/auth/token", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@dataclass
class Admin:
    client: httpx.AsyncClient
    headers: dict[str, str]

    async def user(self, username: str, role: str = "staff") -> dict[str, str]:
        """Create a user and return that user's auth headers."""
        password = f"{username}-password-1"
        response = await self.client.post(
            "/users",
            json={
                "username": username,
                "display_name": username.title(),
                "password": password,
                "role": role,
            },
            headers=self.headers,
        )
        assert response.status_code == 201, response.text
        headers = await log_in(self.client, username, password)
        headers["X-User-Id"] = response.json()["user_id"]  # for the tests' own bookkeeping
        return headers

    async def view(self, name: str, base_filter: dict, tabs: list[dict]) -> dict:
        response = await self.client.post(
            "/admin/views",
            json={"name": name, "base_filter": base_filter, "form": {"tabs": tabs}},
            headers=self.headers,
        )
        assert response.status_code == 201, response.text
        return response.json()

    async def grant(self, user: dict[str, str], view: dict, can_edit: bool = False) -> None:
        response = await self.client.put(
            f"/admin/views/{view['view_id']}/grants",
            json={"user_id": user["X-User-Id"], "can_edit": can_edit},
            headers=self.headers,
        )
        assert response.status_code == 204, response.text


@pytest.fixture
async def admin(gateway: httpx.AsyncClient) -> Admin:
    return Admin(gateway, await log_in(gateway, "admin", ADMIN_PASSWORD))


Check = Callable[[], Awaitable[bool]]
