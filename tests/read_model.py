"""A small read model built on the common consumer plumbing, to test that plumbing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, Text, Uuid, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from relata_common.db import create_engine, create_sessionmaker
from relata_common.events import Envelope
from relata_common.inbox import Inbox, inbox_table
from relata_common.kafka import PoisonEvent

metadata = MetaData()
seen = Table(
    "seen",
    metadata,
    Column("event_id", Uuid, nullable=False),
    Column("subject_id", Text, nullable=False),
    Column("version", Integer),
    Column("consumer", Text),
)
inbox = Inbox(inbox_table(metadata))


@dataclass
class ReadModel:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    def applier(self, label: str = "c"):
        async def apply(session: AsyncSession, envelope: Envelope) -> None:
            if envelope.type == "test.poison":
                raise PoisonEvent("this event can never be applied")
            await session.execute(
                seen.insert().values(
                    event_id=envelope.event_id,
                    subject_id=envelope.subject_id,
                    version=envelope.subject_version,
                    consumer=label,
                )
            )

        return apply

    async def rows(self) -> list[tuple]:
        async with self.sessions() as session:
            result = await session.execute(
                select(seen.c.event_id, seen.c.subject_id, seen.c.version, seen.c.consumer)
            )
            return [tuple(row) for row in result]

    async def count(self) -> int:
        async with self.sessions() as session:
            counted = await session.execute(select(func.count()).select_from(seen))
            return int(counted.scalar_one())


@pytest.fixture
async def read_model(postgres_server: str, database_name: str) -> AsyncIterator[ReadModel]:
    engine = create_engine(f"{postgres_server}/{database_name}")
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield ReadModel(engine, create_sessionmaker(engine))
    await engine.dispose()
