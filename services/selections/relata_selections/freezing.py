"""Freezing members in bulk: COPY into PostgreSQL inside the caller's transaction.

A selection of 200,000 relations is one COPY of 200,000 rows; row-by-row INSERTs would be a
round trip each.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

RelationIds = Sequence[uuid.UUID | str]
"""Relation ids as UUIDs or their strings (asyncpg encodes either; the lists service's answer
is copied without parsing 200,000 UUIDs in Python)."""

STAGED = "staged_relations"


async def driver_connection(session: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection under the session, in the session's transaction."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert isinstance(driver, asyncpg.Connection)  # the engine's driver is asyncpg
    return driver


async def freeze_members(
    session: AsyncSession,
    *,
    selection_id: uuid.UUID,
    relation_ids: RelationIds,
    added_by: Literal["source", "hand"],
) -> int:
    """Insert members of a new (empty) selection; the ids must be distinct."""
    now = datetime.now(UTC)
    records = [(selection_id, relation_id, now, added_by) for relation_id in relation_ids]
    if not records:
        return 0
    connection = await driver_connection(session)
    await connection.copy_records_to_table(
        "selection_members",
        records=records,
        columns=("selection_id", "relation_id", "added_at", "added_by"),
    )
    return len(records)


async def stage_relations(session: AsyncSession, relation_ids: RelationIds) -> int:
    """Load ids into a transaction-scoped temporary table ``staged_relations`` for set-based
    comparison; the ids must be distinct."""
    await session.execute(
        text(f"CREATE TEMPORARY TABLE {STAGED} (relation_id uuid NOT NULL) ON COMMIT DROP")
    )
    connection = await driver_connection(session)
    if relation_ids:
        await connection.copy_records_to_table(
            STAGED, records=[(relation_id,) for relation_id in relation_ids]
        )
    await session.execute(text(f"CREATE UNIQUE INDEX ON {STAGED} (relation_id)"))
    await session.execute(text(f"ANALYZE {STAGED}"))
    return len(relation_ids)
