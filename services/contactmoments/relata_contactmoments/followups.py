"""Follow-ups of contact moments: who is to do something about a moment, by when, and whether
it is done.

A follow-up belongs to a live moment when it is made; it is versioned like a moment (changes
name the version they read) and every change puts a ``followup.*`` event in the outbox, in the
caller's transaction. A deleted moment's follow-ups stay as they were but leave every list of
open follow-ups: there is nothing left to follow up.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from relata_common.errors import FieldError, InvalidInput, NotFound
from relata_common.events import (
    CONTACTMOMENTS_TOPIC,
    Actor,
    ActorKind,
    FollowUpEventType,
    FollowUpPayload,
    FollowUpState,
)
from relata_common.versions import check_version
from relata_contactmoments.models import contact_moments, follow_ups, outbox
from relata_contactmoments.moments import PUBLISHER, get_live_record, get_record
from relata_contactmoments.schemas import FollowUp, FollowUpInput, FollowUpPatch, OpenFollowUp


@dataclass
class FollowUpRecord:
    """One row of the follow_ups table."""

    id: uuid.UUID
    contact_moment_id: uuid.UUID
    version: int
    assignee_id: str
    due_on: date
    note: str
    created_by: str | None
    done_at: datetime | None
    done_by: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> FollowUpRecord:
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})

    def out(self) -> FollowUp:
        return FollowUp(
            follow_up_id=self.id,
            version=self.version,
            contact_moment_id=self.contact_moment_id,
            assignee_id=self.assignee_id,
            due_on=self.due_on,
            note=self.note,
            created_by=self.created_by,
            done=self.done_at is not None,
            done_at=self.done_at,
            done_by=self.done_by,
            created_at=self.created_at,
            updated_at=self.updated_at,
        )

    def state(self, relation_ids: list[uuid.UUID]) -> FollowUpState:
        return FollowUpState(
            follow_up_id=self.id,
            version=self.version,
            contact_moment_id=self.contact_moment_id,
            relation_ids=relation_ids,
            assignee_id=self.assignee_id,
            due_on=self.due_on,
            done=self.done_at is not None,
            done_at=self.done_at,
        )


def _user_id(actor: Actor) -> str | None:
    return actor.id if actor.kind == ActorKind.USER else None


async def _publish(
    session: AsyncSession,
    record: FollowUpRecord,
    event_type: FollowUpEventType,
    actor: Actor,
    relation_ids: list[uuid.UUID],
) -> None:
    payload = FollowUpPayload(state=record.state(relation_ids))
    event = PUBLISHER.event(
        CONTACTMOMENTS_TOPIC, event_type, record.id, payload, version=record.version, actor=actor
    )
    await outbox.add_many(session, [event])


async def create_follow_up(
    session: AsyncSession, *, moment_id: uuid.UUID, data: FollowUpInput, actor: Actor
) -> FollowUpRecord:
    """A new open follow-up of a live moment (410 for a deleted one, 404 for none)."""
    moment = await get_live_record(session, moment_id)
    row = (
        (
            await session.execute(
                insert(follow_ups)
                .values(
                    id=uuid.uuid4(),
                    contact_moment_id=moment.id,
                    version=1,
                    assignee_id=data.assignee_id,
                    due_on=data.due_on,
                    note=data.note,
                    created_by=_user_id(actor),
                )
                .returning(follow_ups)
            )
        )
        .mappings()
        .one()
    )
    record = FollowUpRecord.from_row(row)
    await _publish(session, record, FollowUpEventType.CREATED, actor, moment.relation_ids)
    return record


async def get_follow_up(
    session: AsyncSession, follow_up_id: uuid.UUID, *, for_update: bool = False
) -> FollowUpRecord:
    statement = select(follow_ups).where(follow_ups.c.id == follow_up_id)
    if for_update:
        statement = statement.with_for_update()
    row = (await session.execute(statement)).mappings().first()
    if row is None:
        raise NotFound(f"follow-up {follow_up_id} does not exist", follow_up_id=str(follow_up_id))
    return FollowUpRecord.from_row(row)


def _changed_values(record: FollowUpRecord, patch: FollowUpPatch, actor: Actor) -> dict[str, Any]:
    """The columns a patch changes (none when it changes nothing)."""
    given = patch.model_dump(exclude_unset=True)
    cleared = [name for name, value in given.items() if value is None]
    if cleared:
        raise InvalidInput([FieldError(("body", name), "cannot be cleared") for name in cleared])
    values = {
        name: given[name]
        for name in ("assignee_id", "due_on", "note")
        if name in given and given[name] != getattr(record, name)
    }
    done = given.get("done")
    if done is True and record.done_at is None:
        values |= {"done_at": datetime.now(UTC), "done_by": actor.id}
    elif done is False and record.done_at is not None:
        values |= {"done_at": None, "done_by": None}
    return values


async def change_follow_up(
    session: AsyncSession,
    *,
    follow_up_id: uuid.UUID,
    expected_version: int,
    patch: FollowUpPatch,
    actor: Actor,
) -> FollowUpRecord:
    """Change, complete or reopen a follow-up, refusing a stale version (412). A change that
    changes nothing stores nothing; a follow-up of a deleted moment cannot change (410)."""
    record = await get_follow_up(session, follow_up_id, for_update=True)
    moment = await get_live_record(session, record.contact_moment_id)
    check_version(f"follow-up {record.id}", record.version, expected_version)
    values = _changed_values(record, patch, actor)
    if not values:
        return record
    row = (
        (
            await session.execute(
                update(follow_ups)
                .where(follow_ups.c.id == record.id)
                .values(**values, version=follow_ups.c.version + 1, updated_at=func.now())
                .returning(follow_ups)
            )
        )
        .mappings()
        .one()
    )
    changed = FollowUpRecord.from_row(row)
    completed = record.done_at is None and changed.done_at is not None
    event_type = FollowUpEventType.COMPLETED if completed else FollowUpEventType.CHANGED
    await _publish(session, changed, event_type, actor, moment.relation_ids)
    return changed


async def follow_ups_of(session: AsyncSession, moment_id: uuid.UUID) -> list[FollowUpRecord]:
    """A moment's follow-ups (deleted moments too), soonest due first."""
    await get_record(session, moment_id)
    rows = await session.execute(
        select(follow_ups)
        .where(follow_ups.c.contact_moment_id == moment_id)
        .order_by(follow_ups.c.due_on, follow_ups.c.created_at, follow_ups.c.id)
    )
    return [FollowUpRecord.from_row(row) for row in rows.mappings()]


async def open_follow_ups(
    session: AsyncSession, *, assignee_id: str, limit: int, due_before: date | None = None
) -> list[OpenFollowUp]:
    """The assignee's open follow-ups of live moments, soonest due first."""
    statement = (
        select(
            follow_ups,
            contact_moments.c.relation_ids,
            contact_moments.c.subject,
            contact_moments.c.kind,
            contact_moments.c.occurred_at,
        )
        .join(contact_moments, contact_moments.c.id == follow_ups.c.contact_moment_id)
        .where(
            follow_ups.c.assignee_id == assignee_id,
            follow_ups.c.done_at.is_(None),
            contact_moments.c.deleted_at.is_(None),
        )
        .order_by(follow_ups.c.due_on, follow_ups.c.id)
        .limit(limit)
    )
    if due_before is not None:
        statement = statement.where(follow_ups.c.due_on < due_before)
    rows = (await session.execute(statement)).mappings()
    return [
        OpenFollowUp(
            **FollowUpRecord.from_row(row).out().model_dump(),
            relation_ids=row["relation_ids"],
            subject=row["subject"],
            kind=row["kind"],
            occurred_at=row["occurred_at"],
        )
        for row in rows
    ]
