"""The search service in-process against real PostgreSQL and the broker, fed real envelopes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from asgi_lifespan import LifespanManager

from relata_common.events import (
    Envelope,
    MembershipCause,
    MembershipPayload,
    RelationChangedPayload,
    RelationErasedPayload,
    RelationMergedPayload,
    RelationState,
    RelationStatus,
)
from relata_search.app import create_api
from relata_search.settings import SearchSettings
from tests.helpers import eventually

INTERNAL_TOKEN = "test-internal-token"
ALL = uuid.UUID("00000000-0000-0000-0000-0000000000a1")  # the "All relations" list of a view

_numbers = iter(range(500_001, 10_000_000))


def search_settings_for(
    postgres_server: str, kafka_bootstrap: str, database: str, prefix: str, index_dir: Path
) -> SearchSettings:
    return SearchSettings(
        postgres_url=postgres_server,
        database_name=database,
        kafka_bootstrap=kafka_bootstrap,
        internal_token=INTERNAL_TOKEN,
        relations_topic=f"{prefix}.crm.relations",
        membership_topic=f"{prefix}.crm.lists.membership",
        consumer_group=f"{prefix}-search",
        topic_partitions=3,
        index_dir=index_dir,
        follow_poll_seconds=0.5,
    )


@asynccontextmanager
async def running_search(settings: SearchSettings) -> AsyncIterator[SearchService]:
    app = create_api(settings)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=1)
    await producer.start()
    try:
        async with (
            LifespanManager(app, startup_timeout=60) as manager,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=manager.app),
                base_url="http://search",
                headers={"X-Internal-Token": INTERNAL_TOKEN},
            ) as client,
        ):
            yield SearchService(settings, client, producer, app)
    finally:
        await producer.stop()


class SearchService:
    """The running service plus what a test needs to feed it and ask it."""

    def __init__(
        self, settings: SearchSettings, client: httpx.AsyncClient, producer: AIOKafkaProducer, app
    ) -> None:
        self.settings = settings
        self.client = client
        self.producer = producer
        self.app = app

    async def publish(self, topic: str, envelope: Envelope) -> None:
        await self.producer.send_and_wait(
            topic, envelope.to_json(), key=envelope.subject_id.encode()
        )

    async def relation(self, envelope: Envelope) -> None:
        await self.publish(self.settings.relations_topic, envelope)

    async def membership(self, envelope: Envelope) -> None:
        await self.publish(self.settings.membership_topic, envelope)

    async def search(self, q: str, views: list[uuid.UUID] | None = None, **params: Any) -> dict:
        views = views if views is not None else [ALL]
        response = await self.client.get(
            "/search", params={"q": q, "views": ",".join(map(str, views)), **params}
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def ids(self, q: str, views: list[uuid.UUID] | None = None, **params: Any) -> list[str]:
        return [r["relation_id"] for r in (await self.search(q, views, **params))["results"]]

    async def wait_found(self, q: str, relation_id: uuid.UUID, **kwargs: Any) -> None:
        async def found() -> bool:
            return str(relation_id) in await self.ids(q, limit=50, **kwargs)

        await eventually(found, timeout=30)

    async def wait_gone(self, q: str, relation_id: uuid.UUID, **kwargs: Any) -> None:
        async def gone() -> bool:
            return str(relation_id) not in await self.ids(q, limit=50, **kwargs)

        await eventually(gone, timeout=30)

    async def add(
        self, fields: dict[str, Any], *, relation_type: str = "person", lists=(ALL,)
    ) -> RelationState:
        """A new relation in the given lists: its created event and its entered events."""
        state = relation_state(fields, relation_type=relation_type)
        await self.relation(changed(state, "relation.created"))
        for list_id in lists:
            await self.membership(membership(state.relation_id, list_id))
        return state


@pytest.fixture
async def search(
    postgres_server: str, kafka_bootstrap: str, database_name: str, topic_prefix: str, tmp_path
) -> AsyncIterator[SearchService]:
    settings = search_settings_for(
        postgres_server, kafka_bootstrap, database_name, topic_prefix, tmp_path / "index"
    )
    async with running_search(settings) as service:
        yield service


# --- envelopes ---------------------------------------------------------------------------------


def relation_state(
    fields: dict[str, Any],
    *,
    relation_type: str = "person",
    relation_id: uuid.UUID | None = None,
    version: int = 1,
    number: int | None = None,
    status: RelationStatus = RelationStatus.ACTIVE,
) -> RelationState:
    now = datetime.now(UTC)
    return RelationState(
        relation_id=relation_id or uuid.uuid4(),
        relation_type=relation_type,
        relation_number=number or next(_numbers),
        status=status,
        version=version,
        created_at=now,
        updated_at=now,
        fields=fields,
    )


def changed(state: RelationState, type_: str = "relation.updated") -> Envelope:
    payload = RelationChangedPayload(state=state, changed_fields=list(state.fields))
    return Envelope(
        type=type_,
        producer="relations",
        subject_id=str(state.relation_id),
        subject_version=state.version,
        payload=payload.model_dump(mode="json"),
    )


def updated(state: RelationState, **fields: Any) -> RelationState:
    return state.model_copy(
        update={"version": state.version + 1, "fields": {**state.fields, **fields}}
    )


def merged(merged_state: RelationState, survivor_id: uuid.UUID) -> Envelope:
    state = merged_state.model_copy(
        update={
            "version": merged_state.version + 1,
            "status": RelationStatus.MERGED,
            "merged_into": survivor_id,
        }
    )
    payload = RelationMergedPayload(
        survivor_id=survivor_id, merged_id=state.relation_id, merge_id=uuid.uuid4(), state=state
    )
    return Envelope(
        type="relation.merged",
        producer="relations",
        subject_id=str(state.relation_id),
        subject_version=state.version,
        payload=payload.model_dump(mode="json"),
    )


def erased(state: RelationState) -> Envelope:
    return Envelope(
        type="relation.erased",
        producer="relations",
        subject_id=str(state.relation_id),
        subject_version=state.version + 1,
        payload=RelationErasedPayload(relation_id=state.relation_id).model_dump(mode="json"),
    )


def membership(
    relation_id: uuid.UUID, list_id: uuid.UUID, type_: str = "membership.entered"
) -> Envelope:
    payload = MembershipPayload(
        list_id=list_id,
        relation_id=relation_id,
        cause=MembershipCause(event_type="list.defined"),
    )
    return Envelope(
        type=type_,
        producer="lists",
        subject_id=str(relation_id),
        payload=payload.model_dump(mode="json"),
    )
