"""The inbox: which events a consumer has applied, so a redelivered event is applied only once.

The primary key (consumer, event_id) does the deduplication: recording an event and applying it
happen in one transaction, so either both are there or neither is.

Rows are kept for ``inbox_retention_days`` (30 by default), far longer than a redelivery can
come late (the topics keep their events 7 days; the compacted relations topic carries versioned
states, which the consumers check by version), then pruned, so the inbox does not grow for ever.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime, MetaData, Table, Text, Uuid, func, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


def inbox_table(metadata: MetaData) -> Table:
    return Table(
        "inbox",
        metadata,
        Column("consumer", Text, primary_key=True),
        Column("event_id", Uuid, primary_key=True),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


class Inbox:
    def __init__(self, table: Table) -> None:
        self.table = table

    async def claim_many(
        self, session: AsyncSession, consumer: str, event_ids: list[uuid.UUID]
    ) -> set[uuid.UUID]:
        """Record events as processed; returns those not seen before."""
        if not event_ids:
            return set()
        statement = (
            insert(self.table)
            .values([{"consumer": consumer, "event_id": event_id} for event_id in event_ids])
            .on_conflict_do_nothing()
            .returning(self.table.c.event_id)
        )
        return set((await session.execute(statement)).scalars())


PRUNE_BATCH = 10_000


async def prune_inbox(
    sessions: async_sessionmaker[AsyncSession], before: datetime, batch: int = PRUNE_BATCH
) -> int:
    """Delete the inbox rows processed before ``before``, ``batch`` rows a transaction (short
    locks beside the consumers); how many. A database without an inbox prunes nothing."""
    deleted = 0
    while True:
        async with sessions() as session, session.begin():
            if (await session.execute(text("SELECT to_regclass('inbox')"))).scalar() is None:
                return deleted
            result = await session.execute(
                text(
                    "DELETE FROM inbox WHERE ctid IN (SELECT ctid FROM inbox"
                    " WHERE processed_at < :before LIMIT :batch)"
                ),
                {"before": before, "batch": batch},
            )
        count = result.rowcount or 0  # type: ignore[attr-defined]
        deleted += count
        if count < batch:
            return deleted
