"""The gateway in front of in-process services on one broker, PostgreSQL and Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest
from asgi_lifespan import LifespanManager

from relata_common.db import drop_database, ensure_database
from relata_gateway.app import create_api, create_worker
from relata_gateway.cli import ensure_user
from relata_gateway.settings import GatewaySettings
from tests.lists.conftest import (  # noqa: F401 - fixtures used through pytest
    lists_api,
    lists_database,
    lists_settings,
    lists_worker,
    platform,
)
from tests.relations.fixtures import INTERNAL_TOKEN

ADMIN_PASSWORD = "admin-password-123"


@pytest.fixture
async def gateway_database(postgres_server: str) -> AsyncIterator[str]:
    name = f"relata_test_gateway_{uuid.uuid4().hex[:12]}"
    await ensure_database(f"{postgres_server}/{name}")
    yield name
    await drop_database(f"{postgres_server}/{name}")


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
async def gateway(
    gateway_settings: GatewaySettings,
    redis_client,
    relations_api: httpx.AsyncClient,
    relations_relay: None,
    lists_api: httpx.AsyncClient,  # noqa: F811
    lists_worker: None,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[httpx.AsyncClient]:
    """The public gateway API (and its worker), wired to the in-process services."""
    monkeypatch.setenv("CRM_POSTGRES_URL", gateway_settings.postgres_url)
    monkeypatch.setenv("CRM_DATABASE_NAME", gateway_settings.database_name)
    from relata_gateway.settings import get_settings

    get_settings.cache_clear()
    await ensure_user("admin", ADMIN_PASSWORD, "admin", "Administrator")
    get_settings.cache_clear()
    transports = {"relations": relations_api._transport, "lists": lists_api._transport}
    app = create_api(gateway_settings, transports=transports)
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
