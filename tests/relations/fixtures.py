from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager

from relata_relations.app import create_api, create_relay
from relata_relations.settings import RelationsSettings

INTERNAL_TOKEN = "test-internal-token"


@pytest.fixture
def relations_settings(
    postgres_server: str, kafka_bootstrap: str, database_name: str
) -> RelationsSettings:
    return RelationsSettings(
        postgres_url=postgres_server,
        database_name=database_name,
        kafka_bootstrap=kafka_bootstrap,
        internal_token=INTERNAL_TOKEN,
        import_chunk_size=500,
    )


@pytest.fixture
async def relations_api(relations_settings: RelationsSettings) -> AsyncIterator[httpx.AsyncClient]:
    """The relations API in-process (ASGI), migrated on a fresh database."""
    app = create_api(relations_settings)
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app),
            base_url="http://relations",
            headers={
                "X-Internal-Token": INTERNAL_TOKEN,
                "X-Actor-Kind": "user",
                "X-Actor-Id": "u1",
            },
        ) as client,
    ):
        yield client


@pytest.fixture
async def relations_relay(
    relations_settings: RelationsSettings, relations_api: httpx.AsyncClient
) -> AsyncIterator[None]:
    """The outbox relay process of the relations service, in-process."""
    del relations_api  # requested so that the service has started and migrated the database
    async with LifespanManager(create_relay(relations_settings)):
        yield


def person(last_name: str = "Berg", **fields: object) -> dict:
    return {"relation_type": "person", "fields": {"last_name": last_name, **fields}}


def organisation(name: str = "Acme BV", **fields: object) -> dict:
    return {"relation_type": "organisation", "fields": {"organisation_name": name, **fields}}


async def create(client: httpx.AsyncClient, body: dict) -> dict:
    response = await client.post("/relations", json=body)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
async def relations_db(
    postgres_server: str, database_name: str, relations_api: httpx.AsyncClient
) -> AsyncIterator[object]:
    """A direct asyncpg connection to the (migrated) relations test database."""
    del relations_api  # requested so that the service has started and migrated the database
    import asyncpg

    from relata_common.db import asyncpg_dsn

    connection = await asyncpg.connect(asyncpg_dsn(f"{postgres_server}/{database_name}"))
    yield connection
    await connection.close()
