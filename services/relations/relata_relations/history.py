"""Change history of a relation: who changed which field from what to what, and when."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relata_common.events import Actor
from relata_relations.models import relation_changes
from relata_relations.relations import get_record


class FieldChange(BaseModel):
    field: str
    old: Any
    new: Any


class HistoryEntry(BaseModel):
    version: int
    kind: str
    actor: Actor
    occurred_at: datetime
    changes: list[FieldChange]


async def relation_history(
    session: AsyncSession,
    *,
    relation_id: uuid.UUID,
    limit: int,
    before_version: int | None = None,
    field: str | None = None,
) -> list[HistoryEntry]:
    """Newest first; page with ``before_version``; ``field`` keeps only changes of that field."""
    await get_record(session, relation_id)
    statement = (
        select(relation_changes)
        .where(relation_changes.c.relation_id == relation_id)
        .order_by(relation_changes.c.version.desc(), relation_changes.c.id.desc())
        .limit(limit)
    )
    if before_version is not None:
        statement = statement.where(relation_changes.c.version < before_version)
    if field is not None:
        statement = statement.where(relation_changes.c.changes.has_key(field))
    rows = (await session.execute(statement)).mappings()
    return [
        HistoryEntry(
            version=row["version"],
            kind=row["kind"],
            actor=Actor(kind=row["actor_kind"], id=row["actor_id"]),
            occurred_at=row["occurred_at"],
            changes=[
                FieldChange(field=name, old=change.get("old"), new=change.get("new"))
                for name, change in row["changes"].items()
            ],
        )
        for row in rows
    ]
