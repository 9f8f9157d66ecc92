"""The lists service wired to a running relations service, on one broker and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from asgi_lifespan import LifespanManager

from relata_common.db import drop_database, ensure_database
from relata_common.events import Envelope
from relata_common.kafka import consumer_group
from relata_lists.app import create_api, create_relay, create_worker
from relata_lists.consumers import CONSUMED_TOPICS
from relata_lists.settings import ListsSettings
from tests.helpers import start_group_at_end
from tests.relations.fixtures import INTERNAL_TOKEN


@pytest.fixture
async def lists_database(postgres_server: str) -> AsyncIterator[str]:
    name = f"relata_test_lists_{uuid.uuid4().hex[:12]}"
    await ensure_database(f"{postgres_server}/{name}")
    yield name
    await drop_database(f"{postgres_server}/{name}")


@pytest.fixture
def lists_settings(
    postgres_server: str, kafka_bootstrap: str, lists_database: str
) -> ListsSettings:
    return ListsSettings(
        postgres_url=postgres_server,
        database_name=lists_database,
        kafka_bootstrap=kafka_bootstrap,
        internal_token=INTERNAL_TOKEN,
        browse_threshold=50,
        consumer_group_suffix=f"-{lists_database}",
    )


@pytest.fixture
async def lists_api(
    lists_settings: ListsSettings, relations_api: httpx.AsyncClient
) -> AsyncIterator[httpx.AsyncClient]:
    """The lists API in-process; custom field definitions come from the relations API."""
    lists_settings.relations_url = "http://relations"
    app = create_api(lists_settings, {"relations": relations_api._transport})
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app),
            base_url="http://lists",
            headers={"X-Internal-Token": INTERNAL_TOKEN},
        ) as client,
    ):
        yield client


async def start_lists_group_at_end(settings: ListsSettings) -> None:
    group = consumer_group(settings, "lists")
    await start_group_at_end(settings.kafka_bootstrap, group, CONSUMED_TOPICS)


@pytest.fixture
async def lists_worker(
    lists_settings: ListsSettings, lists_api: httpx.AsyncClient
) -> AsyncIterator[None]:
    """The lists worker (consumers and daily schedule) and its relay, in-process."""
    del lists_api  # requested so that the service has started and migrated the database
    await start_lists_group_at_end(lists_settings)
    async with (
        LifespanManager(create_worker(lists_settings)),
        LifespanManager(create_relay(lists_settings)),
    ):
        yield


@dataclass
class Platform:
    """Publishes facts as other platform modules do (donations, registrations, contact moments)."""

    producer: AIOKafkaProducer

    async def publish(self, topic: str, envelope: Envelope) -> None:
        await self.producer.send_and_wait(
            topic, envelope.to_json(), key=envelope.subject_id.encode()
        )


@pytest.fixture
async def platform(kafka_bootstrap: str) -> AsyncIterator[Platform]:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    yield Platform(producer)
    await producer.stop()


@pytest.fixture
async def live_lists(
    relations_relay: None, lists_worker: None, lists_api: httpx.AsyncClient
) -> httpx.AsyncClient:
    """The lists API with the relations relay and the lists worker running: events flow."""
    del relations_relay, lists_worker  # requested so that events flow into the read model
    return lists_api
