"""A contact moment's history: who changed which field from what to what, and when."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relata_common.events import Actor
from relata_contactmoments.models import contact_moment_changes
from relata_contactmoments.moments import TRACKED, get_record


class FieldChange(BaseModel):
    field: str
    old: Any
    new: Any


class HistoryEntry(BaseModel):
    version: int
    kind: str = Field(description="the event that recorded the change")
    reason: str | None = Field(
        description="what caused a change nobody made by hand, such as relation.merged"
    )
    actor: Actor
    occurred_at: datetime
    changes: list[FieldChange]


async def moment_history(
    session: AsyncSession, *, moment_id: uuid.UUID, limit: int, before_version: int | None = None
) -> list[HistoryEntry]:
    """Newest first; page with ``before_version``. A deleted moment keeps its history."""
    await get_record(session, moment_id)
    table = contact_moment_changes
    statement = (
        select(table)
        .where(table.c.contact_moment_id == moment_id)
        .order_by(table.c.version.desc(), table.c.id.desc())
        .limit(limit)
    )
    if before_version is not None:
        statement = statement.where(table.c.version < before_version)
    rows = (await session.execute(statement)).mappings()
    return [
        HistoryEntry(
            version=row["version"],
            kind=row["kind"],
            reason=row["reason"],
            actor=Actor(kind=row["actor_kind"], id=row["actor_id"]),
            occurred_at=row["occurred_at"],
            changes=[
                FieldChange(field=name, old=change.get("old"), new=change.get("new"))
                # JSONB forgets key order: show fields in one fixed order.
                for name, change in sorted(row["changes"].items(), key=_field_order)
            ],
        )
        for row in rows
    ]


def _field_order(item: tuple[str, Any]) -> int:
    return TRACKED.index(item[0]) if item[0] in TRACKED else len(TRACKED)
