"""A worker keeps its tables' planner statistics current, whatever autovacuum does."""

from __future__ import annotations

from sqlalchemy import text

from relata_common.db import analyze_stale_tables
from tests.helpers import eventually
from tests.read_model import ReadModel


async def test_a_table_that_grew_is_analysed_once(read_model: ReadModel):
    async with read_model.sessions.begin() as session:
        await session.execute(
            text(
                "INSERT INTO seen (event_id, subject_id, version, consumer) "
                "SELECT gen_random_uuid(), 's' || n, n, 'c' FROM generate_series(1, 2000) n"
            )
        )
    analysed: list[str] = []

    async def seen_is_analysed() -> bool:
        # The server counts changed rows a moment after the commit.
        analysed.extend(await analyze_stale_tables(read_model.sessions))
        return "seen" in analysed

    await eventually(seen_is_analysed, timeout=10)
    async with read_model.sessions() as session:
        estimate = await session.scalar(
            text("SELECT reltuples FROM pg_class WHERE relname = 'seen'")
        )
    assert estimate == 2000
    assert await analyze_stale_tables(read_model.sessions) == []  # nothing changed since
