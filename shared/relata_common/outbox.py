"""The transactional outbox and its relay.

A state change and the event describing it are written in one database transaction
(:meth:`Outbox.add`). The relay publishes outbox rows in id order and deletes them once the
broker has acknowledged them. A crash between commit and publish loses nothing; a crash between
publish and delete publishes the row again, which idempotent consumers ignore; a broker outage
only delays.

Only one relay per database publishes: it holds a PostgreSQL advisory lock on its own
connection, so events of one relation leave in commit order. Standbys wait for the lock and take
over when the holder's connection dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaProducer
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    MetaData,
    Table,
    Text,
    Uuid,
    func,
    insert,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession

from relata_common.events import Envelope
from relata_common.logging import get_logger

NOTIFY_CHANNEL = "relata_outbox"
RELAY_LOCK_KEY = 0x52454C41  # "RELA": advisory locks are per database, one relay per service
log = get_logger(__name__)

PUBLISHED = Counter("relata_outbox_published_total", "Outbox events published", ["topic"])
BACKLOG = Gauge("relata_outbox_backlog", "Outbox rows waiting to be published")
PUBLISH_DELAY = Histogram(
    "relata_outbox_publish_delay_seconds",
    "Time from commit of an outbox row to its acknowledged publication",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


def outbox_table(metadata: MetaData) -> Table:
    return Table(
        "outbox",
        metadata,
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("topic", Text, nullable=False),
        Column("message_key", Text, nullable=False),
        Column("event_id", Uuid, nullable=False),
        Column("event", Text, nullable=False, comment="the envelope as published, JSON"),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


@dataclass(frozen=True)
class OutgoingEvent:
    topic: str
    envelope: Envelope


class Outbox:
    """Writes events into the service's outbox table inside the caller's transaction."""

    def __init__(self, table: Table) -> None:
        self.table = table

    async def add(self, session: AsyncSession, topic: str, envelope: Envelope) -> None:
        await self.add_many(session, [OutgoingEvent(topic, envelope)])

    async def add_many(self, session: AsyncSession, events: Iterable[OutgoingEvent]) -> None:
        rows = [
            {
                "topic": event.topic,
                "message_key": event.envelope.subject_id,
                "event_id": event.envelope.event_id,
                "event": event.envelope.to_json().decode(),
            }
            for event in events
        ]
        if not rows:
            return
        await session.execute(insert(self.table), rows)
        # Delivered at commit, collapsed to one per transaction: wakes the relay at once.
        await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": NOTIFY_CHANNEL})


@dataclass(frozen=True)
class _PendingRow:
    id: int
    topic: str
    key: str
    event: str
    created_at: float


class OutboxRelay:
    """Publishes a service's outbox to Kafka, in order, while it holds the relay lock."""

    def __init__(
        self,
        database_dsn: str,
        producer: AIOKafkaProducer,
        *,
        batch_size: int = 1000,
        poll_interval: float = 1.0,
        retry_backoff: float = 0.5,
        ensure_topics: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.database_dsn = database_dsn
        self.producer = producer
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.retry_backoff = retry_backoff
        self.ensure_topics = ensure_topics
        self.is_leader = False
        self._wakeup = asyncio.Event()

    async def run(self) -> None:
        """Relay until cancelled, reconnecting after database failures."""
        while True:
            try:
                await self._run_connected()
            except asyncio.CancelledError:
                raise
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                self.is_leader = False
                log.warning("outbox relay lost its database connection", error=str(error))
                await asyncio.sleep(self.retry_backoff)

    async def _run_connected(self) -> None:
        connection = await asyncpg.connect(self.database_dsn)
        try:
            await self._become_leader(connection)
            await connection.add_listener(NOTIFY_CHANNEL, self._on_notify)
            while True:
                published = await self.relay_batch(connection)
                if published < self.batch_size:
                    await self._wait_for_work()
        finally:
            self.is_leader = False
            await connection.close(timeout=2)

    async def _become_leader(self, connection: asyncpg.Connection) -> None:
        # A standby polls: the lock frees when the leader's connection ends, which no
        # notification announces.
        while not await connection.fetchval(  # noqa: ASYNC110
            "SELECT pg_try_advisory_lock($1)", RELAY_LOCK_KEY
        ):
            await asyncio.sleep(self.poll_interval)
        self.is_leader = True
        log.info("outbox relay holds the relay lock")

    def _on_notify(self, *_: object) -> None:
        self._wakeup.set()

    async def _wait_for_work(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), timeout=self.poll_interval)
        self._wakeup.clear()

    async def relay_batch(self, connection: asyncpg.Connection) -> int:
        """Publish the oldest pending rows and mark them sent; returns how many."""
        rows = await self.fetch_pending(connection)
        if not rows:
            BACKLOG.set(0)
            return 0
        await self.publish(rows)
        await self.mark_sent(connection, rows)
        return len(rows)

    async def fetch_pending(self, connection: asyncpg.Connection) -> list[_PendingRow]:
        records = await connection.fetch(
            "SELECT id, topic, message_key, event, extract(epoch FROM created_at) AS created"
            " FROM outbox ORDER BY id LIMIT $1",
            self.batch_size,
        )
        BACKLOG.set(len(records))
        return [
            _PendingRow(r["id"], r["topic"], r["message_key"], r["event"], float(r["created"]))
            for r in records
        ]

    async def publish(self, rows: Sequence[_PendingRow]) -> None:
        """Send every row and wait for the broker's acknowledgement, retrying until it comes.

        aiokafka keeps one request in flight per partition, so rows of one key stay in order.
        A partially failed batch is sent again whole: the duplicates are harmless.
        """
        while True:
            try:
                deliveries = [
                    await self.producer.send(row.topic, row.event.encode(), key=row.key.encode())
                    for row in rows
                ]
                await asyncio.gather(*deliveries)
                break
            except asyncio.CancelledError:
                raise
            except Exception as error:  # broker down or unreachable: wait and resend
                log.warning("outbox publish failed, retrying", error=repr(error), rows=len(rows))
                await asyncio.sleep(self.retry_backoff)
                while not await self._recreate_topics():  # noqa: ASYNC110 - polls the broker
                    await asyncio.sleep(self.retry_backoff)
        now = time.time()
        for row in rows:
            PUBLISHED.labels(row.topic).inc()
            PUBLISH_DELAY.observe(max(0.0, now - row.created_at))

    async def _recreate_topics(self) -> bool:
        """After a failure, make sure the topics exist before publishing again.

        A broker that came back empty (Tansu's memory storage, a new cluster) would otherwise
        accept records for topics it no longer lists, and they would be lost.
        """
        if self.ensure_topics is None:
            return True
        try:
            await self.ensure_topics()
            return True
        except Exception as error:
            log.warning("could not ensure topics", error=repr(error))
            return False

    async def mark_sent(self, connection: asyncpg.Connection, rows: Sequence[_PendingRow]) -> None:
        await connection.execute(
            "DELETE FROM outbox WHERE id = ANY($1::bigint[])", [r.id for r in rows]
        )
