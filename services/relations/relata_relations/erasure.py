"""Erasure on a privacy request: the relation keeps only its id, type and number.

Its fields, functions and external id go; its history keeps which fields changed and when, but
not the values; merge snapshots holding its data are cleared (such a merge cannot be undone), and
the relations merged into it, which held data of the same person, are erased with it.
"""

from __future__ import annotations

import uuid

from sqlalchemy import delete, func, null, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from relata_common.errors import Conflict
from relata_common.events import Actor, RelationEventType, RelationState, RelationStatus
from relata_relations.models import functions, merges, relations
from relata_relations.relations import (
    RelationRecord,
    bump_version,
    change_event,
    get_record,
    record_changes,
    state_of,
)

_FORGET_HISTORY_VALUES = text(
    """
    UPDATE relation_changes
    SET changes = COALESCE(
        (SELECT jsonb_object_agg(key, '{"old": null, "new": null}'::jsonb)
         FROM jsonb_object_keys(changes) AS key),
        '{}'::jsonb)
    WHERE relation_id = :relation_id
    """
)


async def erase_relation(
    session: AsyncSession, *, relation_id: uuid.UUID, actor: Actor
) -> RelationState:
    """Erase a relation and every relation merged into it (they were the same person)."""
    record = await get_record(session, relation_id, for_update=True)
    if record.status == RelationStatus.ERASED:
        return state_of(record, [])
    if record.status == RelationStatus.MERGED:
        raise Conflict(
            f"relation {relation_id} was merged into {record.merged_into}: erase the survivor",
            merged_into=str(record.merged_into),
        )
    state = await _erase(session, relation_id, actor)
    for merged_id in await _merged_into(session, relation_id):
        await _erase(session, merged_id, actor)
    return state


async def _merged_into(session: AsyncSession, relation_id: uuid.UUID) -> list[uuid.UUID]:
    """The relations merged into this one, directly or through earlier merges."""
    found: list[uuid.UUID] = []
    frontier = [relation_id]
    while frontier:
        rows = await session.execute(
            select(relations.c.id)
            .where(relations.c.merged_into.in_(frontier))
            .where(relations.c.status == RelationStatus.MERGED.value)
            .order_by(relations.c.id)
            .with_for_update()
        )
        frontier = list(rows.scalars())
        found += frontier
    return found


async def _erase(session: AsyncSession, relation_id: uuid.UUID, actor: Actor) -> RelationState:
    holders: set[uuid.UUID] = set(
        (
            await session.execute(
                select(functions.c.subject_id).where(functions.c.object_id == relation_id)
            )
        ).scalars()
    )
    await session.execute(
        delete(functions).where(
            or_(functions.c.subject_id == relation_id, functions.c.object_id == relation_id)
        )
    )
    await session.execute(_FORGET_HISTORY_VALUES, {"relation_id": relation_id})
    await session.execute(
        update(merges)
        .where(or_(merges.c.survivor_id == relation_id, merges.c.merged_id == relation_id))
        .values(survivor_before=null(), merged_before=null())
    )
    row = (
        (
            await session.execute(
                update(relations)
                .where(relations.c.id == relation_id)
                .values(
                    fields={},
                    external_id=None,
                    status=RelationStatus.ERASED.value,
                    version=relations.c.version + 1,
                    updated_at=func.now(),
                )
                .returning(relations)
            )
        )
        .mappings()
        .one()
    )
    state = state_of(RelationRecord.from_row(row), [])
    history, event = change_event(
        RelationEventType.ERASED,
        state,
        {"erased": {"old": None, "new": None}},
        actor,
        payload={"relation_id": str(relation_id)},
    )
    await record_changes(session, [(history, event)])
    for holder in sorted(holders):
        await bump_version(
            session, holder, {"functions": {"old": None, "new": "ended by an erasure"}}, actor
        )
    return state
