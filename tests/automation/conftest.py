"""The automation service wired to in-process relations (and, where a test asks, lists,
selections and contact moments) services, on the session's broker and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relata_automation.app import create_api, create_relay, create_worker
from relata_automation.consumers import CONSUMED_TOPICS
from relata_automation.settings import AutomationSettings
from relata_common.db import create_engine, create_sessionmaker, drop_database, ensure_database
from relata_common.kafka import consumer_group
from relata_contactmoments.app import create_api as create_cm_api
from relata_contactmoments.settings import ContactMomentsSettings
from tests.helpers import eventually, start_group_at_end
from tests.relations.fixtures import INTERNAL_TOKEN

HEADERS = {"X-Internal-Token": INTERNAL_TOKEN, "X-Actor-Kind": "user", "X-Actor-Id": "anouk"}


async def _fresh_database(postgres_server: str, kind: str) -> str:
    name = f"relata_test_{kind}_{uuid.uuid4().hex[:12]}"
    await ensure_database(f"{postgres_server}/{name}")
    return name


@pytest.fixture
async def automation_database(postgres_server: str) -> AsyncIterator[str]:
    name = await _fresh_database(postgres_server, "automation")
    yield name
    await drop_database(f"{postgres_server}/{name}")


@pytest.fixture
def automation_settings(
    postgres_server: str, kafka_bootstrap: str, automation_database: str
) -> AutomationSettings:
    return AutomationSettings(
        postgres_url=postgres_server,
        database_name=automation_database,
        kafka_bootstrap=kafka_bootstrap,
        internal_token=INTERNAL_TOKEN,
        relations_url="http://relations",
        lists_url="http://lists",
        selections_url="http://selections",
        contactmoments_url="http://contactmoments",
        # Tests share one broker: a group per test reads the topics from the start.
        consumer_group_suffix=f"-{automation_database}",
        executor_interval=0.05,
    )


@pytest.fixture
def automation_transports(relations_api: httpx.AsyncClient) -> dict[str, Any]:
    """The services automation reaches; test modules needing more override this fixture."""
    return {"relations": relations_api._transport}


@pytest.fixture
async def automation_api(
    automation_settings: AutomationSettings, automation_transports: dict[str, Any]
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_api(automation_settings, automation_transports)
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app),
            base_url="http://automation",
            headers=HEADERS,
        ) as client,
    ):
        yield client


@pytest.fixture
async def automation_worker(
    automation_settings: AutomationSettings,
    automation_transports: dict[str, Any],
    automation_api: httpx.AsyncClient,
    relations_relay: None,
) -> AsyncIterator[None]:
    """The automation worker (consumer and executor) and relay, with the relations relay."""
    # Requested so that the service has started and migrated the database, and so that
    # relation events reach the worker.
    del automation_api, relations_relay
    group = consumer_group(automation_settings, automation_settings.consumer_group)
    await start_group_at_end(automation_settings.kafka_bootstrap, group, CONSUMED_TOPICS)
    async with (
        LifespanManager(create_worker(automation_settings, automation_transports)),
        LifespanManager(create_relay(automation_settings)),
    ):
        yield


@pytest.fixture
async def automation_sessions(
    automation_settings: AutomationSettings, automation_api: httpx.AsyncClient
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    del automation_api  # requested so that the service has started and migrated the database
    engine = create_engine(automation_settings.database_url, pool_size=2)
    yield create_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
async def cm_api(postgres_server: str, kafka_bootstrap: str) -> AsyncIterator[httpx.AsyncClient]:
    """The contact moments API on a database of its own (relations has the test's one)."""
    name = await _fresh_database(postgres_server, "cm")
    settings = ContactMomentsSettings(
        postgres_url=postgres_server,
        database_name=name,
        kafka_bootstrap=kafka_bootstrap,
        internal_token=INTERNAL_TOKEN,
    )
    app = create_cm_api(settings)
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app),
            base_url="http://contactmoments",
            headers=HEADERS,
        ) as client,
    ):
        yield client
    await drop_database(f"{postgres_server}/{name}")


# --- helpers -----------------------------------------------------------------------------------


def unique(name: str) -> str:
    """A value of this test's own: tests share one broker, and a worker reading crm.relations
    from the start sees other tests' relations too."""
    return f"{name}{uuid.uuid4().hex[:6]}"


async def queue(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/duplicates", params=params)
    assert response.status_code == 200, response.text
    return response.json()["pairs"]


async def pairs_with(
    client: httpx.AsyncClient, relation_id: str, *, count: int = 1
) -> list[dict[str, Any]]:
    """Wait until the relation has ``count`` open pairs; returns them."""
    found: list[dict[str, Any]] = []

    async def arrived() -> bool:
        nonlocal found
        response = await client.get(f"/relations/{relation_id}/duplicates")
        found = response.json()
        return len(found) >= count

    await eventually(arrived)
    return found
