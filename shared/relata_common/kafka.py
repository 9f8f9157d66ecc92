"""Kafka plumbing on FastStream and aiokafka: broker, topics, producer and reliable consumers.

Consumers follow one recipe (see :class:`EventConsumer`): read a batch, apply every event and
record it in the inbox in one database transaction, then commit the offsets. Events that cannot
be parsed or applied after retries go to ``<topic>.dlq`` with the reason, and the consumer moves
on. Database outages are not the event's fault: those are retried until the database is back,
without committing the offset, so a crash meanwhile loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from prometheus_client import Counter, Gauge, Histogram
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relata_common.events import Envelope, dead_letter_topic
from relata_common.inbox import Inbox
from relata_common.logging import correlation_id_var, get_logger
from relata_common.settings import CommonSettings

log = get_logger(__name__)

CONSUMED = Counter("relata_events_consumed_total", "Events applied", ["consumer", "topic"])
DUPLICATES = Counter("relata_events_duplicate_total", "Redelivered events ignored", ["consumer"])
DEAD_LETTERED = Counter(
    "relata_events_dead_lettered_total", "Events sent to a DLQ", ["consumer", "topic"]
)
LAG = Gauge("relata_consumer_lag", "Events not yet consumed", ["group", "topic", "partition"])
BATCH_SECONDS = Histogram("relata_consumer_batch_seconds", "Time to apply one batch", ["consumer"])

SUPPORTED_SCHEMA_VERSION = 1


class PoisonEvent(Exception):
    """An event that can never be applied: dead-letter it at once, without retries."""


def create_broker(settings: CommonSettings, *, description: str = "") -> KafkaBroker:
    return KafkaBroker(
        settings.kafka_bootstrap,
        client_id=settings.service_name,
        enable_idempotence=False,  # Tansu rejects the idempotent producer; the outbox covers it
        description=description or f"Relata {settings.service_name} service",
        logger=None,
    )


def create_producer(settings: CommonSettings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=f"{settings.service_name}-producer",
        acks="all",
        enable_idempotence=False,
        linger_ms=2,
        max_batch_size=256 * 1024,
        request_timeout_ms=10_000,
    )


async def ensure_topics(
    bootstrap: str, topics: Iterable[str], *, partitions: int, replication: int = 1
) -> None:
    """Create missing topics (and their dead-letter topics) with the given partition count."""
    wanted = list(dict.fromkeys(topics))
    wanted += [dead_letter_topic(t) for t in wanted if not t.endswith(".dlq")]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(topic, partitions, replication) for topic in wanted if topic not in existing
        ]
        if missing:
            # Another process may create them first.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
    finally:
        await admin.close()


Applier = Callable[[AsyncSession, Envelope], Awaitable[None]]
"""Applies one event inside the consumer's transaction. Raise PoisonEvent for a bad event."""

BatchApplier = Callable[[AsyncSession, list[Envelope]], Awaitable[None]]
"""Applies a batch of new (deduplicated) events in one transaction, in their order."""


def is_transient(error: BaseException) -> bool:
    """Failures of the infrastructure, not of the event: retry those without limit."""
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(
        error,
        OperationalError
        | InterfaceError
        | OSError
        | asyncpg.InterfaceError
        | asyncpg.CannotConnectNowError
        | asyncpg.ConnectionDoesNotExistError
        | asyncpg.AdminShutdownError,
    )


def _one_by_one(apply: Applier) -> BatchApplier:
    async def apply_each(session: AsyncSession, envelopes: list[Envelope]) -> None:
        for envelope in envelopes:
            correlation_id_var.set(envelope.correlation_id)
            await apply(session, envelope)

    return apply_each


@dataclass
class _Delivery:
    record: ConsumerRecord
    envelope: Envelope


class EventConsumer:
    """Applies events from Kafka topics into a service database, each exactly once.

    Services build theirs with :func:`service_consumer`, which names the group for the
    deployment; ``group`` defaults to ``name``.
    """

    def __init__(
        self,
        *,
        name: str,
        topics: Sequence[str],
        sessions: async_sessionmaker[AsyncSession],
        inbox: Inbox,
        apply: Applier | None = None,
        producer: AIOKafkaProducer,
        apply_batch: BatchApplier | None = None,
        retry_attempts: int = 3,
        retry_backoff: float = 0.2,
        max_records: int = 500,
        group: str | None = None,
        fetch_max_wait_ms: int = 100,
        batch_timeout_ms: int = 200,
    ) -> None:
        self.name = name
        self.group = group or name
        # How long a fetch waits for data: Kafka answers as soon as data arrives, Tansu holds
        # the fetch for the whole wait, so a short wait keeps event latency low on both.
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.batch_timeout_ms = batch_timeout_ms
        self.topics = list(topics)
        self.sessions = sessions
        self.inbox = inbox
        if (apply is None) == (apply_batch is None):
            raise ValueError("give either apply or apply_batch")
        # Without apply_batch, apply is given (checked just above); mypy cannot tie the two.
        self.apply_batch = apply_batch or _one_by_one(apply)  # type: ignore[arg-type]
        self.producer = producer
        self.retry_attempts = retry_attempts
        self.retry_backoff = retry_backoff
        self.max_records = max_records

    def register(self, broker: KafkaBroker, *, description: str = "") -> None:
        """Subscribe in the consumer group named after this consumer, committing manually."""

        @broker.subscriber(
            *self.topics,
            group_id=self.group,
            batch=True,
            max_records=self.max_records,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=self.fetch_max_wait_ms,
            batch_timeout_ms=self.batch_timeout_ms,
            ack_policy=AckPolicy.MANUAL,
            title=f"{self.name}:{','.join(self.topics)}",
            description=description or None,
        )
        async def consume(message: KafkaMessage) -> None:
            records = message.raw_message
            batch = records if isinstance(records, tuple) else (records,)
            await self.handle_batch(batch)
            await message.ack()
            self._report_lag(getattr(message, "consumer", None), batch)

    def _report_lag(self, consumer: Any, records: Sequence[ConsumerRecord]) -> None:
        """Consumer lag per partition: the broker's high-water mark minus what is done."""
        highwater = getattr(consumer, "highwater", None)
        if highwater is None:
            return
        for record in records:
            end = highwater(TopicPartition(record.topic, record.partition))
            if end is not None:
                LAG.labels(self.group, record.topic, str(record.partition)).set(
                    max(0, end - record.offset - 1)
                )

    async def handle_batch(self, records: Sequence[ConsumerRecord]) -> None:
        deliveries = [d for d in [await self._parse(r) for r in records] if d is not None]
        if not deliveries:
            return
        with BATCH_SECONDS.labels(self.name).time():
            try:
                await self._apply_all(deliveries)
            except Exception as error:
                if is_transient(error):
                    await self._retry_transient(deliveries)
                    return
                log.info("batch failed, applying its events one by one", error=repr(error))
                for delivery in deliveries:
                    await self._apply_one(delivery)

    async def _parse(self, record: ConsumerRecord) -> _Delivery | None:
        try:
            envelope = Envelope.from_json(record.value)
        except ValidationError as error:
            await self.dead_letter(record, f"not a valid event envelope: {error}")
            return None
        if envelope.schema_version > SUPPORTED_SCHEMA_VERSION:
            await self.dead_letter(
                record, f"unsupported schema_version {envelope.schema_version} of {envelope.type}"
            )
            return None
        return _Delivery(record, envelope)

    async def _apply_all(self, deliveries: Sequence[_Delivery]) -> None:
        async with self.sessions() as session, session.begin():
            fresh = await self.inbox.claim_many(
                session, self.name, [d.envelope.event_id for d in deliveries]
            )
            new: list[Envelope] = []
            for delivery in deliveries:
                if delivery.envelope.event_id not in fresh:
                    DUPLICATES.labels(self.name).inc()
                    continue
                fresh.discard(delivery.envelope.event_id)  # a duplicate inside one batch
                new.append(delivery.envelope)
            if new:
                correlation_id_var.set(new[-1].correlation_id)
                await self.apply_batch(session, new)
        for delivery in deliveries:
            CONSUMED.labels(self.name, delivery.record.topic).inc()

    async def _retry_transient(self, deliveries: Sequence[_Delivery]) -> None:
        delay = self.retry_backoff
        while True:
            log.warning("database unavailable, retrying batch", consumer=self.name, delay=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
            try:
                await self._apply_all(deliveries)
                return
            except Exception as error:
                if not is_transient(error):
                    for delivery in deliveries:
                        await self._apply_one(delivery)
                    return

    async def _apply_one(self, delivery: _Delivery) -> None:
        attempt = 0
        delay = self.retry_backoff
        while True:
            try:
                await self._apply_all([delivery])
                return
            except PoisonEvent as error:
                await self.dead_letter(delivery.record, str(error))
                return
            except ValidationError as error:
                await self.dead_letter(delivery.record, f"invalid payload: {error}")
                return
            except Exception as error:
                if not is_transient(error):
                    attempt += 1
                    if attempt >= self.retry_attempts:
                        await self.dead_letter(delivery.record, f"could not apply: {error!r}")
                        return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def dead_letter(self, record: ConsumerRecord, reason: str) -> None:
        """Park an event on the dead-letter topic with the reason and where it came from."""
        log.error(
            "event dead-lettered",
            consumer=self.name,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            reason=reason,
        )
        headers = [
            ("x-error", reason[:4000].encode()),
            ("x-consumer", self.name.encode()),
            ("x-original-topic", record.topic.encode()),
            ("x-original-partition", str(record.partition).encode()),
            ("x-original-offset", str(record.offset).encode()),
        ]
        await self.producer.send_and_wait(
            dead_letter_topic(record.topic), record.value, key=record.key, headers=headers
        )
        DEAD_LETTERED.labels(self.name, record.topic).inc()


def consumer_group(settings: CommonSettings, name: str) -> str:
    """The Kafka consumer group of the consumer ``name`` in this deployment: the name with the
    deployment's ``consumer_group_suffix``, so deployments (or tests) sharing a cluster never
    share a group."""
    return name + settings.consumer_group_suffix


def service_consumer(
    settings: CommonSettings,
    *,
    name: str,
    topics: Sequence[str],
    sessions: async_sessionmaker[AsyncSession],
    inbox: Inbox,
    producer: AIOKafkaProducer,
    apply: Applier | None = None,
    apply_batch: BatchApplier | None = None,
    fetch_max_wait_ms: int = 100,
    batch_timeout_ms: int = 200,
) -> EventConsumer:
    """A service's event consumer, the one way services build one.

    ``name`` keys the inbox (which events were applied) and the metrics; the consumer group is
    :func:`consumer_group` of it. Retries and batch size come from the settings.
    """
    return EventConsumer(
        name=name,
        group=consumer_group(settings, name),
        topics=topics,
        sessions=sessions,
        inbox=inbox,
        apply=apply,
        apply_batch=apply_batch,
        producer=producer,
        retry_attempts=settings.consumer_retry_attempts,
        max_records=settings.consumer_max_records,
        fetch_max_wait_ms=fetch_max_wait_ms,
        batch_timeout_ms=batch_timeout_ms,
    )
