"""Reading and changing relations. Every change bumps the version, records history and puts
its event in the outbox, all in the caller's transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from relata_common.errors import Conflict, InvalidInput, NotFound
from relata_common.events import (
    RELATIONS_TOPIC,
    Actor,
    FunctionState,
    RelationEventType,
    RelationState,
    RelationStatus,
)
from relata_common.outbox import OutgoingEvent
from relata_common.publishing import Publisher
from relata_common.versions import check_version
from relata_relations.models import functions, outbox, relation_changes, relations
from relata_relations.settings import RelationsSettings
from relata_relations.validation import apply_patch, diff_fields, load_definitions, validated_fields

PUBLISHER = Publisher.of(RelationsSettings)


@dataclass
class RelationRecord:
    """One row of the relations table."""

    id: uuid.UUID
    relation_type: str
    relation_number: int
    external_id: str | None
    status: str
    merged_into: uuid.UUID | None
    version: int
    fields: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> RelationRecord:
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})


async def get_record(
    session: AsyncSession, relation_id: uuid.UUID, *, for_update: bool = False
) -> RelationRecord:
    statement = select(relations).where(relations.c.id == relation_id)
    if for_update:
        statement = statement.with_for_update()
    row = (await session.execute(statement)).mappings().first()
    if row is None:
        raise NotFound(f"relation {relation_id} does not exist", relation_id=str(relation_id))
    return RelationRecord.from_row(row)


async def get_active_record(
    session: AsyncSession, relation_id: uuid.UUID, *, for_update: bool = False
) -> RelationRecord:
    record = await get_record(session, relation_id, for_update=for_update)
    if record.status == RelationStatus.MERGED:
        raise Conflict(
            f"relation {relation_id} was merged into {record.merged_into}",
            merged_into=str(record.merged_into),
        )
    if record.status == RelationStatus.ERASED:
        raise Conflict(f"relation {relation_id} was erased")
    return record


async def functions_of(session: AsyncSession, relation_id: uuid.UUID) -> list[FunctionState]:
    """The functions this relation holds (it is their subject), oldest first."""
    return (await functions_of_many(session, [relation_id])).get(relation_id, [])


async def functions_of_many(
    session: AsyncSession, relation_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[FunctionState]]:
    rows = await session.execute(
        select(functions)
        .where(functions.c.subject_id.in_(relation_ids))
        .order_by(functions.c.start_date, functions.c.id)
    )
    held: dict[uuid.UUID, list[FunctionState]] = {}
    for row in rows:
        held.setdefault(row.subject_id, []).append(
            FunctionState(
                function_id=row.id,
                role=row.role,
                object_id=row.object_id,
                start_date=row.start_date,
                end_date=row.end_date,
            )
        )
    return held


def state_of(record: RelationRecord, held: list[FunctionState]) -> RelationState:
    return RelationState(
        relation_id=record.id,
        relation_type=record.relation_type,
        relation_number=record.relation_number,
        external_id=record.external_id,
        status=RelationStatus(record.status),
        merged_into=record.merged_into,
        version=record.version,
        created_at=record.created_at,
        updated_at=record.updated_at,
        fields=record.fields,
        functions=held,
    )


async def get_state(session: AsyncSession, relation_id: uuid.UUID) -> RelationState:
    record = await get_record(session, relation_id)
    return state_of(record, await functions_of(session, relation_id))


async def get_states(session: AsyncSession, relation_ids: list[uuid.UUID]) -> list[RelationState]:
    """Many relations' states in two queries (not two per relation), in the order asked;
    unknown ids are left out."""
    rows = await session.execute(select(relations).where(relations.c.id.in_(relation_ids)))
    records = {row["id"]: RelationRecord.from_row(row) for row in rows.mappings()}
    held = await functions_of_many(session, list(records))
    return [
        state_of(records[relation_id], held.get(relation_id, []))
        for relation_id in relation_ids
        if relation_id in records
    ]


def change_event(
    kind: RelationEventType,
    state: RelationState,
    changes: dict[str, dict[str, Any]],
    actor: Actor,
    *,
    payload: dict[str, Any] | None = None,
    event_id: uuid.UUID | None = None,
) -> tuple[dict[str, Any], OutgoingEvent]:
    """The history row and the outbox event describing one change of one relation."""
    history = {
        "relation_id": state.relation_id,
        "version": state.version,
        "kind": kind.value,
        "actor_kind": actor.kind.value,
        "actor_id": actor.id,
        "changes": changes,
    }
    if payload is None:
        payload = {"state": state.model_dump(mode="json"), "changed_fields": list(changes)}
    event = PUBLISHER.event(
        RELATIONS_TOPIC,
        kind,
        state.relation_id,
        payload,
        version=state.version,
        actor=actor,
        event_id=event_id,
    )
    return history, event


async def record_changes(
    session: AsyncSession, changes: list[tuple[dict[str, Any], OutgoingEvent]]
) -> None:
    """Write history rows and outbox events for a set of changes in one go."""
    if not changes:
        return
    await session.execute(relation_changes.insert(), [history for history, _ in changes])
    await outbox.add_many(session, [event for _, event in changes])


async def create_relation(
    session: AsyncSession,
    *,
    relation_type: str,
    raw_fields: dict[str, Any],
    external_id: str | None,
    actor: Actor,
) -> RelationState:
    definitions = await load_definitions(session)
    stored = validated_fields(raw_fields, relation_type, definitions)
    if external_id is not None:
        taken = await session.scalar(
            select(relations.c.id).where(relations.c.external_id == external_id)
        )
        if taken is not None:
            raise Conflict(f"external_id {external_id!r} is taken", relation_id=str(taken))
    row = (
        (
            await session.execute(
                relations.insert()
                .values(
                    id=uuid.uuid4(),
                    relation_type=relation_type,
                    external_id=external_id,
                    version=1,
                    fields=stored,
                )
                .returning(relations)
            )
        )
        .mappings()
        .one()
    )
    state = state_of(RelationRecord.from_row(row), [])
    changes = diff_fields({}, stored)
    await record_changes(session, [change_event(RelationEventType.CREATED, state, changes, actor)])
    return state


async def update_relation(
    session: AsyncSession,
    *,
    relation_id: uuid.UUID,
    expected_version: int,
    patch: dict[str, Any],
    actor: Actor,
) -> RelationState:
    """Apply a partial update of fields, refusing a stale version (optimistic concurrency)."""
    record = await get_active_record(session, relation_id, for_update=True)
    check_version(f"relation {record.id}", record.version, expected_version)
    definitions = await load_definitions(session)
    stored = validated_fields(apply_patch(record.fields, patch), record.relation_type, definitions)
    changes = diff_fields(record.fields, stored)
    if not changes:
        return state_of(record, await functions_of(session, relation_id))
    return await save_fields(session, record, stored, changes, actor)


async def save_fields(
    session: AsyncSession,
    record: RelationRecord,
    stored: dict[str, Any],
    changes: dict[str, dict[str, Any]],
    actor: Actor,
    *,
    kind: RelationEventType = RelationEventType.UPDATED,
    status: RelationStatus | None = None,
) -> RelationState:
    """Store new fields (and status) as the next version, with history and event."""
    values: dict[str, Any] = {"fields": stored, "version": relations.c.version + 1}
    if status is not None:
        values["status"] = status.value
        values["merged_into"] = None
    row = (
        (
            await session.execute(
                update(relations)
                .where(relations.c.id == record.id)
                .values(**values, updated_at=func.now())
                .returning(relations)
            )
        )
        .mappings()
        .one()
    )
    state = state_of(RelationRecord.from_row(row), await functions_of(session, record.id))
    await record_changes(session, [change_event(kind, state, changes, actor)])
    return state


async def bump_version(
    session: AsyncSession,
    relation_id: uuid.UUID,
    changes: dict[str, dict[str, Any]],
    actor: Actor,
) -> RelationState:
    """A change outside the fields (its functions): next version, history and event."""
    record = await get_active_record(session, relation_id, for_update=True)
    return await save_fields(session, record, record.fields, changes, actor)


async def set_archived(
    session: AsyncSession,
    *,
    relation_id: uuid.UUID,
    expected_version: int,
    archived: bool,
    actor: Actor,
) -> RelationState:
    """Archive a relation (it leaves every list and the search index, keeps its data and
    history) or bring it back. Asking for the state it is in changes nothing."""
    record = await get_active_record(session, relation_id, for_update=True)
    check_version(f"relation {record.id}", record.version, expected_version)
    wanted = RelationStatus.ARCHIVED if archived else RelationStatus.ACTIVE
    if record.status == wanted:
        return state_of(record, await functions_of(session, relation_id))
    changes = {"status": {"old": record.status, "new": wanted.value}}
    return await save_fields(session, record, record.fields, changes, actor, status=wanted)


def refuse_type_change() -> None:
    raise InvalidInput.single(
        ("body", "relation_type"),
        "relation_type never changes: a person stays a person, an organisation an organisation",
    )
