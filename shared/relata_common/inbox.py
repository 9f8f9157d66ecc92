"""The inbox: which events a consumer has applied, so a redelivered event is applied only once.

The primary key (consumer, event_id) does the deduplication: recording an event and applying it
happen in one transaction, so either both are there or neither is.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Column, DateTime, MetaData, Table, Text, Uuid, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession


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
