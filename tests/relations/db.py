"""Looking straight into the relations test database: the outbox and the history table."""

from __future__ import annotations

from typing import Any

from relata_common.events import Envelope


async def outbox_events(db: Any, event_type: str | None = None) -> list[tuple[str, Envelope]]:
    """``(message_key, envelope)`` of every outbox row, in the order they would be published."""
    rows = await db.fetch("SELECT message_key, event FROM outbox ORDER BY id")
    events = [(row["message_key"], Envelope.from_json(row["event"])) for row in rows]
    return [(key, e) for key, e in events if event_type is None or e.type == event_type]


async def history_rows(db: Any, relation_id: str) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT version, kind, changes::text AS changes FROM relation_changes"
        " WHERE relation_id = $1::uuid ORDER BY id",
        relation_id,
    )
    return [dict(row) for row in rows]


async def count(db: Any, table: str) -> int:
    return int(await db.fetchval(f"SELECT count(*) FROM {table}"))
