"""The "recently edited" feed keeps changes for the retention period, against real PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select

from relata_common.db import create_engine, create_sessionmaker, migrate
from relata_gateway import activity
from relata_gateway.app import MIGRATIONS
from relata_gateway.models import activity as activity_table


async def test_changes_older_than_the_retention_are_pruned(
    postgres_server: str, gateway_database: str
):
    url = f"{postgres_server}/{gateway_database}"
    await migrate(MIGRATIONS, url)
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    now = datetime.now(UTC)
    ages = {"kept": [0, 1, 89], "pruned": [91, 200, 400, 401]}
    rows = {
        name: [
            {
                "event_id": uuid.uuid4(),
                "relation_id": uuid.uuid4(),
                "kind": "relation.updated",
                "actor_kind": "user",
                "actor_id": "someone",
                "changed_fields": ["city"],
                "at": now - timedelta(days=days),
            }
            for days in days_ago
        ]
        for name, days_ago in ages.items()
    }
    try:
        async with sessions.begin() as session:
            await session.execute(insert(activity_table), [*rows["kept"], *rows["pruned"]])

        # A batch of 3 deletes the four old rows in two transactions.
        assert await activity.prune(sessions, timedelta(days=90), batch=3) == 4
        async with sessions() as session:
            left: set[uuid.UUID] = set(
                (await session.execute(select(activity_table.c.event_id))).scalars()
            )
        assert left == {row["event_id"] for row in rows["kept"]}
        assert await activity.prune(sessions, timedelta(days=90)) == 0
    finally:
        await engine.dispose()
