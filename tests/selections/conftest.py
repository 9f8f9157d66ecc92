"""The selections service wired to in-process relations and lists services, on the session's
broker and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relata_common.client import InternalClient
from relata_common.db import create_engine, create_sessionmaker, drop_database, ensure_database
from relata_common.kafka import consumer_group
from relata_selections.app import create_api, create_relay, create_worker
from relata_selections.consumers import CONSUMED_TOPICS
from relata_selections.settings import SelectionsSettings
from relata_selections.sources import ListsSource
from tests.helpers import eventually, start_group_at_end
from tests.lists.conftest import (  # noqa: F401 - the lists service's fixtures, reused
    lists_api,
    lists_database,
    lists_settings,
    lists_worker,
)
from tests.relations.fixtures import INTERNAL_TOKEN

HEADERS = {"X-Internal-Token": INTERNAL_TOKEN, "X-Actor-Kind": "user", "X-Actor-Id": "u1"}


@pytest.fixture
async def selections_database(postgres_server: str) -> AsyncIterator[str]:
    name = f"relata_test_selections_{uuid.uuid4().hex[:12]}"
    await ensure_database(f"{postgres_server}/{name}")
    yield name
    await drop_database(f"{postgres_server}/{name}")


@pytest.fixture
def selections_settings(
    postgres_server: str, kafka_bootstrap: str, selections_database: str
) -> SelectionsSettings:
    return SelectionsSettings(
        postgres_url=postgres_server,
        database_name=selections_database,
        kafka_bootstrap=kafka_bootstrap,
        internal_token=INTERNAL_TOKEN,
        lists_url="http://lists",
        relations_url="http://relations",
        # Tests share one broker: a group per test, started where the topics end now.
        consumer_group_suffix=f"-{selections_database}",
        event_id_cap=2,
    )


@pytest.fixture
def selections_transports(
    relations_api: httpx.AsyncClient,
    lists_api: httpx.AsyncClient,  # noqa: F811 - the imported fixture
) -> dict[str, httpx.AsyncBaseTransport]:
    """How the selections service reaches the lists and relations services (in-process)."""
    return {"lists": lists_api._transport, "relations": relations_api._transport}


@pytest.fixture
async def selections_api(
    selections_settings: SelectionsSettings,
    selections_transports: dict[str, httpx.AsyncBaseTransport],
) -> AsyncIterator[httpx.AsyncClient]:
    """The selections API in-process, calling the in-process lists and relations APIs."""
    app = create_api(selections_settings, selections_transports)
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app),
            base_url="http://selections",
            headers=HEADERS,
        ) as client,
    ):
        yield client


@pytest.fixture
async def selections_worker(
    selections_settings: SelectionsSettings,
    selections_api: httpx.AsyncClient,
    lists_api: httpx.AsyncClient,  # noqa: F811 - the imported fixture
) -> AsyncIterator[None]:
    """The selections worker (crm.relations consumer and daily schedule), in-process."""
    del selections_api  # requested so that the service has started and migrated the database
    group = consumer_group(selections_settings, selections_settings.consumer_group)
    await start_group_at_end(selections_settings.kafka_bootstrap, group, CONSUMED_TOPICS)
    async with LifespanManager(create_worker(selections_settings, {"lists": lists_api._transport})):
        yield


@pytest.fixture
async def selections_relay(
    selections_settings: SelectionsSettings, selections_api: httpx.AsyncClient
) -> AsyncIterator[None]:
    del selections_api  # requested so that the service has started and migrated the database
    async with LifespanManager(create_relay(selections_settings)):
        yield


@pytest.fixture
async def selections_sessions(
    selections_settings: SelectionsSettings, selections_api: httpx.AsyncClient
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the (migrated) selections database, for calling domain functions."""
    del selections_api  # requested so that the service has started and migrated the database
    engine = create_engine(selections_settings.database_url, pool_size=2)
    yield create_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
async def lists_source(
    lists_api: httpx.AsyncClient,  # noqa: F811 - the imported fixture
) -> AsyncIterator[ListsSource]:
    """What the worker's daily schedule uses to reach the lists service."""
    async with InternalClient(
        {"lists": "http://lists"},
        INTERNAL_TOKEN,
        timeout=60.0,
        transports={"lists": lists_api._transport},
    ) as client:
        yield ListsSource(client)


# --- helpers -----------------------------------------------------------------------------------


def town(name: str) -> str:
    """A city name of this test's own: the tests share one broker, and a lists worker may read
    relation events a previous test left behind (its group's offsets were not yet committed)."""
    return f"{name} {uuid.uuid4().hex[:6]}"


def city_filter(city: str) -> dict[str, Any]:
    return {"all": [{"kind": "field", "field": "city", "op": "equals", "value": city}]}


async def wait_for_count(lists: httpx.AsyncClient, filter_: dict, count: int) -> None:
    """Wait until the lists read model has caught up with the relations created."""

    async def caught_up() -> bool:
        response = await lists.post("/evaluate/ids", json={"filter": filter_})
        return response.status_code == 200 and response.json()["count"] == count

    await eventually(caught_up)


async def wait_for_ids(lists: httpx.AsyncClient, filter_: dict, relations: list[dict]) -> None:
    """Wait until the filter matches exactly these relations in the lists read model."""
    wanted = {r["relation_id"] for r in relations}

    async def caught_up() -> bool:
        response = await lists.post("/evaluate/ids", json={"filter": filter_})
        return response.status_code == 200 and set(response.json()["relation_ids"]) == wanted

    await eventually(caught_up)


async def create_selection(client: httpx.AsyncClient, name: str, source: dict, **extra) -> dict:
    response = await client.post("/selections", json={"name": name, "source": source, **extra})
    assert response.status_code == 201, response.text
    assert response.headers["ETag"] == f'"{response.json()["version"]}"'
    return response.json()


async def member_ids(client: httpx.AsyncClient, selection_id: str) -> dict[str, str]:
    """Every member: relation id -> added_by, paging through."""
    found: dict[str, str] = {}
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(f"/selections/{selection_id}/members", params=params)).json()
        found |= {m["relation_id"]: m["added_by"] for m in page["members"]}
        cursor = page["next_cursor"]
        if cursor is None:
            return found


async def etag_of(client: httpx.AsyncClient, selection_id: str) -> str:
    return (await client.get(f"/selections/{selection_id}")).headers["ETag"]
