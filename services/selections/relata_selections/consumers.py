"""The selections worker: follows merges and erasures of relations (``crm.relations``), and
refreshes the selections that ask for it once a day."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

import httpx
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relata_common.client import InternalClient
from relata_common.events import (
    RELATIONS_TOPIC,
    Envelope,
    RelationErasedPayload,
    RelationEventType,
    RelationMergedPayload,
)
from relata_common.kafka import EventConsumer, service_consumer
from relata_common.logging import get_logger
from relata_selections import relation_events
from relata_selections.models import inbox
from relata_selections.refresh import refresh_due_selection
from relata_selections.selections import local_now
from relata_selections.settings import SelectionsSettings
from relata_selections.sources import ListsSource

log = get_logger(__name__)

CONSUMED_TOPICS = (RELATIONS_TOPIC,)


def relation_applier(cap: int) -> Callable[[AsyncSession, Envelope], Awaitable[None]]:
    async def apply(session: AsyncSession, envelope: Envelope) -> None:
        """Apply one relation event inside the consumer's transaction (idempotent anyway)."""
        if envelope.type == RelationEventType.MERGED:
            merged = RelationMergedPayload.model_validate(envelope.payload)
            touched = await relation_events.apply_merge(
                session,
                survivor_id=merged.survivor_id,
                merged_id=merged.merged_id,
                actor=envelope.actor,
                cap=cap,
            )
            log.info("merge applied", merged=str(merged.merged_id), selections=len(touched))
        elif envelope.type == RelationEventType.ERASED:
            erased = RelationErasedPayload.model_validate(envelope.payload)
            touched = await relation_events.apply_erasure(
                session, relation_id=erased.relation_id, actor=envelope.actor, cap=cap
            )
            log.info("erasure applied", selections=len(touched))
        # Other relation events do not change frozen selections.

    return apply


def relations_consumer(
    settings: SelectionsSettings,
    sessions: async_sessionmaker[AsyncSession],
    producer: AIOKafkaProducer,
) -> EventConsumer:
    return service_consumer(
        settings,
        name=settings.consumer_group,
        topics=CONSUMED_TOPICS,
        sessions=sessions,
        inbox=inbox,
        apply=relation_applier(settings.event_id_cap),
        producer=producer,
    )


def register(settings: SelectionsSettings) -> Callable[[KafkaBroker, FastAPI], Awaitable[None]]:
    async def build(broker: KafkaBroker, app: FastAPI) -> None:
        relations_consumer(settings, app.state.sessions, app.state.producer).register(
            broker, description="Re-points merged relations and removes erased ones."
        )

    return build


def internal_client(
    settings: SelectionsSettings, transports: Mapping[str, httpx.AsyncBaseTransport] | None = None
) -> InternalClient:
    """The process's client to the lists and relations services (``lists_timeout`` and
    ``relations_timeout`` seconds)."""
    return InternalClient.from_settings(
        settings,
        ("lists", "relations"),
        timeout=settings.relations_timeout,
        transports=transports,
    )


async def _refresh_one_due(app: FastAPI, source: ListsSource, cap: int) -> bool:
    now = local_now()
    return await refresh_due_selection(
        app.state.sessions, source, today=now.date(), at=now.time(), cap=cap
    )


def daily_schedule(
    settings: SelectionsSettings, transports: Mapping[str, httpx.AsyncBaseTransport] | None = None
) -> Callable[[FastAPI], Awaitable[None]]:
    """The worker task refreshing, once a day, every selection that asks for it."""

    async def run(app: FastAPI) -> None:
        async with internal_client(settings, transports) as client:
            source = ListsSource(client)
            while True:
                while await _refresh_one_due(app, source, settings.event_id_cap):
                    pass
                await asyncio.sleep(settings.daily_refresh_interval)

    return run
