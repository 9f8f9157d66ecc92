"""Fixtures of the contact moments service: its API, relay and worker in-process, against a
fresh database and the session's broker."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from asgi_lifespan import LifespanManager

from relata_common.db import asyncpg_dsn, create_engine, create_sessionmaker, transaction
from relata_common.events import RELATIONS_TOPIC, Envelope
from relata_common.kafka import consumer_group, ensure_topics
from relata_contactmoments.app import create_api, create_relay, create_worker
from relata_contactmoments.consumers import CONSUMED_TOPICS, apply_relation_event
from relata_contactmoments.settings import ContactMomentsSettings
from tests.helpers import start_group_at_end

INTERNAL_TOKEN = "test-internal-token"
MAIL = Path(__file__).parent / "mail"
HEADERS = {"X-Internal-Token": INTERNAL_TOKEN, "X-Actor-Kind": "user", "X-Actor-Id": "u1"}

Feed = Callable[[Envelope], Awaitable[None]]


@pytest.fixture
def cm_settings(
    postgres_server: str, kafka_bootstrap: str, database_name: str
) -> ContactMomentsSettings:
    return ContactMomentsSettings(
        postgres_url=postgres_server,
        database_name=database_name,
        kafka_bootstrap=kafka_bootstrap,
        internal_token=INTERNAL_TOKEN,
        # Tests share one broker: a group per test, started where the topics end now.
        consumer_group_suffix=f"-{database_name}",
    )


@pytest.fixture
async def cm_api(cm_settings: ContactMomentsSettings) -> AsyncIterator[httpx.AsyncClient]:
    """The contact moments API in-process (ASGI), migrated on a fresh database."""
    app = create_api(cm_settings)
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app),
            base_url="http://contactmoments",
            headers=HEADERS,
        ) as client,
    ):
        yield client


@pytest.fixture
async def cm_relay(
    cm_settings: ContactMomentsSettings, cm_api: httpx.AsyncClient
) -> AsyncIterator[None]:
    """The outbox relay process of the service, in-process."""
    del cm_api  # requested so that the service has started and migrated the database
    async with LifespanManager(create_relay(cm_settings)):
        yield


@pytest.fixture
async def cm_worker(
    cm_settings: ContactMomentsSettings, cm_api: httpx.AsyncClient
) -> AsyncIterator[None]:
    """The event worker process (consumes crm.relations), in-process."""
    del cm_api  # requested so that the service has started and migrated the database
    group = consumer_group(cm_settings, cm_settings.consumer_group)
    await start_group_at_end(cm_settings.kafka_bootstrap, group, CONSUMED_TOPICS)
    async with LifespanManager(create_worker(cm_settings)):
        yield


@pytest.fixture
async def cm_db(
    cm_settings: ContactMomentsSettings, cm_api: httpx.AsyncClient
) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection to the (migrated) test database."""
    del cm_api  # requested so that the service has started and migrated the database
    connection = await asyncpg.connect(asyncpg_dsn(cm_settings.database_url))
    yield connection
    await connection.close()


@pytest.fixture
async def feed(
    cm_settings: ContactMomentsSettings, cm_api: httpx.AsyncClient
) -> AsyncIterator[Feed]:
    """Apply relation events straight through the worker's applier, without the broker."""
    del cm_api  # requested so that the service has started and migrated the database
    engine = create_engine(cm_settings.database_url, pool_size=2)
    sessions = create_sessionmaker(engine)

    async def apply(envelope: Envelope) -> None:
        async with transaction(sessions) as session:
            await apply_relation_event(session, envelope)

    yield apply
    await engine.dispose()


@pytest.fixture
async def publish(kafka_bootstrap: str) -> AsyncIterator[Callable[[Envelope], Awaitable[None]]]:
    """Publish relation envelopes on crm.relations, as the relations relay would."""
    await ensure_topics(kafka_bootstrap, [RELATIONS_TOPIC], partitions=12)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()

    async def send(envelope: Envelope) -> None:
        await producer.send_and_wait(
            RELATIONS_TOPIC, envelope.to_json(), key=envelope.subject_id.encode()
        )

    yield send
    await producer.stop()


# --- relation events as the relations service publishes them ----------------------------------


def relation_state(
    relation_id: uuid.UUID,
    version: int,
    emails: Sequence[str] = (),
    *,
    status: str = "active",
    merged_into: uuid.UUID | None = None,
    relation_type: str = "person",
) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    name = {"person": "last_name", "organisation": "organisation_name"}[relation_type]
    return {
        "relation_id": str(relation_id),
        "relation_type": relation_type,
        "relation_number": 100001,
        "status": status,
        "merged_into": str(merged_into) if merged_into else None,
        "version": version,
        "created_at": now,
        "updated_at": now,
        "fields": {name: "Test", "emails": [{"type": "work", "address": a} for a in emails]},
        "functions": [],
    }


def relation_changed(
    relation_id: uuid.UUID,
    version: int,
    emails: Sequence[str] = (),
    *,
    event_type: str = "relation.created",
    relation_type: str = "person",
) -> Envelope:
    return Envelope(
        type=event_type,
        producer="relations",
        subject_id=str(relation_id),
        subject_version=version,
        payload={
            "state": relation_state(relation_id, version, emails, relation_type=relation_type),
            "changed_fields": ["emails"],
        },
    )


def relation_merged(survivor_id: uuid.UUID, merged_id: uuid.UUID, version: int) -> Envelope:
    return Envelope(
        type="relation.merged",
        producer="relations",
        subject_id=str(merged_id),
        subject_version=version,
        actor={"kind": "user", "id": "merger"},
        payload={
            "survivor_id": str(survivor_id),
            "merged_id": str(merged_id),
            "merge_id": str(uuid.uuid4()),
            "state": relation_state(merged_id, version, status="merged", merged_into=survivor_id),
        },
    )


def relation_erased(relation_id: uuid.UUID, version: int) -> Envelope:
    return Envelope(
        type="relation.erased",
        producer="relations",
        subject_id=str(relation_id),
        subject_version=version,
        actor={"kind": "user", "id": "privacy-officer"},
        payload={"relation_id": str(relation_id)},
    )


# --- the API ---------------------------------------------------------------------------------


def moment(relation_ids: list[uuid.UUID] | list[str], **fields: Any) -> dict[str, Any]:
    return {
        "kind": "phone",
        "direction": "in",
        "subject": "Called about the membership",
        "notes": "Wants to pay yearly.",
        "occurred_at": "2025-03-04T10:00:00+01:00",
        "relation_ids": [str(r) for r in relation_ids],
        **fields,
    }


async def log(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/contact-moments", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def post_mail(client: httpx.AsyncClient, raw: bytes | str) -> httpx.Response:
    content = raw if isinstance(raw, bytes) else (MAIL / raw).read_bytes()
    return await client.post(
        "/contact-moments/email", content=content, headers={"Content-Type": "message/rfc822"}
    )
