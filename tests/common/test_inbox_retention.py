"""The inbox is pruned of rows older than its retention, in batches, and nothing newer."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from relata_common.db import (
    create_engine,
    create_sessionmaker,
    drop_database,
    ensure_database,
    new_metadata,
)
from relata_common.inbox import inbox_table, prune_inbox


@pytest.fixture
async def database(postgres_server: str) -> AsyncIterator[str]:
    url = f"{postgres_server}/relata_test_inbox_{uuid.uuid4().hex[:12]}"
    await ensure_database(url)
    yield url
    await drop_database(url)


async def test_rows_past_the_retention_are_pruned_and_newer_ones_kept(database: str) -> None:
    """Catches: an inbox that grows for ever (no pruning), or pruning that takes rows still
    inside the retention (a redelivered event would then be applied twice)."""
    metadata = new_metadata()
    table = inbox_table(metadata)
    engine = create_engine(database, pool_size=1)
    sessions = create_sessionmaker(engine)
    now = datetime.now(UTC)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
        rows = [
            {"consumer": "c", "event_id": uuid.uuid4(), "processed_at": now - timedelta(days=d)}
            for d in [40] * 25 + [31] * 5 + [29] * 7 + [0] * 3
        ]
        await connection.execute(insert(table), rows)
    try:
        pruned = await prune_inbox(sessions, now - timedelta(days=30), batch=7)
        assert pruned == 30
        async with sessions() as session:
            kept: list[datetime] = list(
                (await session.execute(select(table.c.processed_at))).scalars()
            )
        assert len(kept) == 10 and min(kept) > now - timedelta(days=30)
    finally:
        await engine.dispose()


async def test_a_database_without_an_inbox_prunes_nothing(database: str) -> None:
    engine = create_engine(database, pool_size=1)
    try:
        assert await prune_inbox(create_sessionmaker(engine), datetime.now(UTC)) == 0
    finally:
        await engine.dispose()
