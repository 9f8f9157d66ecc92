"""The search service's event consumer: crm.relations and crm.lists.membership into the read model.

One consumer group per rebuild generation (``search-g<n>``): a rebuild starts a new group, which
reads both topics from the beginning.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relata_common.events import Envelope
from relata_common.kafka import (
    EventConsumer,
    create_broker,
    ensure_topics,
    service_consumer,
)
from relata_common.logging import get_logger
from relata_search.membership import apply_membership_events
from relata_search.models import inbox
from relata_search.readmodel import apply_relation_events, lock_changes
from relata_search.settings import SearchSettings

log = get_logger(__name__)


async def apply_events(session: AsyncSession, envelopes: list[Envelope]) -> None:
    """A batch from both topics in one transaction: the relations first, then the memberships
    (a membership of a relation that left in the same batch is then refused, as it would be
    had the relation left first)."""
    relations: list[Envelope] = []
    memberships: list[Envelope] = []
    for envelope in envelopes:
        (memberships if envelope.type.startswith("membership.") else relations).append(envelope)
    await lock_changes(session)
    await apply_relation_events(session, relations)
    await apply_membership_events(session, memberships)


def group_name(settings: SearchSettings, generation: int) -> str:
    """The consumer's name in a generation (its inbox name; the group adds the suffix)."""
    return f"{settings.consumer_group}-g{generation}"


def generation_consumer(
    settings: SearchSettings,
    generation: int,
    sessions: async_sessionmaker[AsyncSession],
    producer: AIOKafkaProducer,
) -> EventConsumer:
    """The consumer of one generation: a new generation re-applies everything, so its inbox
    name (and group) is new too."""
    return service_consumer(
        settings,
        name=group_name(settings, generation),
        topics=(settings.relations_topic, settings.membership_topic),
        sessions=sessions,
        inbox=inbox,
        apply_batch=apply_events,
        producer=producer,
        fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms,
        batch_timeout_ms=settings.consumer_batch_timeout_ms,
    )


class ConsumerSupervisor:
    """Runs the consumer of the current generation; a rebuild restarts it in a new group."""

    def __init__(
        self,
        settings: SearchSettings,
        sessions: async_sessionmaker[AsyncSession],
        producer: AIOKafkaProducer,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.producer = producer
        self.generation: int | None = None
        self.broker: KafkaBroker | None = None
        self._changed = asyncio.Event()

    def switch_to(self, generation: int) -> None:
        if generation != self.generation:
            self.generation = generation
            self._changed.set()

    async def run(self) -> None:
        settings = self.settings
        topics = (settings.relations_topic, settings.membership_topic)
        await ensure_topics(
            settings.kafka_bootstrap,
            topics,
            partitions=settings.topic_partitions,
            replication=settings.topic_replication,
        )
        try:
            while True:
                await self._changed.wait()
                self._changed.clear()
                await self._stop()
                assert self.generation is not None
                broker = create_broker(settings)
                consumer = generation_consumer(
                    settings, self.generation, self.sessions, self.producer
                )
                consumer.register(broker)
                await broker.start()
                self.broker = broker
                log.info("consuming", group=consumer.group)
        finally:
            await self._stop()

    async def _stop(self) -> None:
        if self.broker is not None:
            broker, self.broker = self.broker, None
            with contextlib.suppress(Exception):
                await broker.stop()
