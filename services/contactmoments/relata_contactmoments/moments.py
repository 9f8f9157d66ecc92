"""Logging, changing and deleting contact moments.

Every change bumps the moment's version, records who changed what from what to what, keeps the
timeline links in step and puts the event in the outbox, all in the caller's transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from relata_common.errors import (
    FieldError,
    Gone,
    InvalidInput,
    NotFound,
)
from relata_common.events import (
    CONTACTMOMENTS_TOPIC,
    Actor,
    ActorKind,
    ContactMomentEventType,
    ContactMomentPayload,
    ContactMomentState,
)
from relata_common.outbox import OutgoingEvent
from relata_common.publishing import Publisher
from relata_common.versions import check_version
from relata_contactmoments.known_relations import check_linkable, lock_relations
from relata_contactmoments.models import (
    contact_moment_changes,
    contact_moment_links,
    contact_moments,
    follow_ups,
    outbox,
)
from relata_contactmoments.schemas import ContactMoment, EmailDetails, MomentInput, MomentPatch
from relata_contactmoments.settings import ContactMomentsSettings

PUBLISHER = Publisher.of(ContactMomentsSettings)
# The fields whose changes the history records, in the order it shows them.
TRACKED = ("kind", "direction", "subject", "notes", "occurred_at", "relation_ids", "deleted")


@dataclass
class MomentRecord:
    """One row of the contact_moments table."""

    id: uuid.UUID
    version: int
    kind: str
    direction: str
    subject: str
    notes: str
    occurred_at: datetime
    user_id: str | None
    relation_ids: list[uuid.UUID]
    source: str
    message_id: str | None
    email: dict[str, Any] | None
    deleted_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> MomentRecord:
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None

    def tracked(self) -> dict[str, Any]:
        """The tracked fields as JSON values, for the history."""
        return {
            "kind": self.kind,
            "direction": self.direction,
            "subject": self.subject,
            "notes": self.notes,
            "occurred_at": self.occurred_at.isoformat(),
            "relation_ids": [str(r) for r in self.relation_ids],
            "deleted": self.deleted,
        }

    def out(self) -> ContactMoment:
        return ContactMoment(
            contact_moment_id=self.id,
            version=self.version,
            kind=self.kind,
            direction=self.direction,
            subject=self.subject,
            notes=self.notes,
            occurred_at=self.occurred_at,
            user_id=self.user_id,
            relation_ids=self.relation_ids,
            source=self.source,
            email=EmailDetails.model_validate(self.email) if self.email else None,
            deleted=self.deleted,
            deleted_at=self.deleted_at,
            created_at=self.created_at,
            updated_at=self.updated_at,
        )

    def state(self) -> ContactMomentState:
        return ContactMomentState(
            contact_moment_id=self.id,
            version=self.version,
            kind=self.kind,
            direction=self.direction,
            subject=self.subject,
            occurred_at=self.occurred_at,
            user_id=self.user_id,
            relation_ids=self.relation_ids,
            deleted=self.deleted,
        )


def _user_id(actor: Actor) -> str | None:
    """Only a user logs a moment "by" someone; a module or the system is in the history."""
    return actor.id if actor.kind == ActorKind.USER else None


async def get_record(
    session: AsyncSession, moment_id: uuid.UUID, *, for_update: bool = False
) -> MomentRecord:
    statement = select(contact_moments).where(contact_moments.c.id == moment_id)
    if for_update:
        statement = statement.with_for_update()
    row = (await session.execute(statement)).mappings().first()
    if row is None:
        raise NotFound(
            f"contact moment {moment_id} does not exist", contact_moment_id=str(moment_id)
        )
    return MomentRecord.from_row(row)


async def get_live_record(
    session: AsyncSession, moment_id: uuid.UUID, *, for_update: bool = False
) -> MomentRecord:
    record = await get_record(session, moment_id, for_update=for_update)
    if record.deleted:
        raise Gone(
            f"contact moment {moment_id} was deleted; its history remains",
            contact_moment_id=str(moment_id),
        )
    return record


def _event(
    event_type: ContactMomentEventType,
    record: MomentRecord,
    actor: Actor,
    previous_relation_ids: list[uuid.UUID],
) -> OutgoingEvent:
    payload = ContactMomentPayload(
        state=record.state(), previous_relation_ids=previous_relation_ids
    )
    return PUBLISHER.event(
        CONTACTMOMENTS_TOPIC, event_type, record.id, payload, version=record.version, actor=actor
    )


def _diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: {"old": before.get(name), "new": after[name]}
        for name in TRACKED
        if before.get(name) != after[name]
    }


async def _record(
    session: AsyncSession,
    record: MomentRecord,
    changes: dict[str, dict[str, Any]],
    event_type: ContactMomentEventType,
    actor: Actor,
    *,
    previous_relation_ids: list[uuid.UUID],
    reason: str | None = None,
) -> None:
    """History row, timeline links and outbox event for the record as it now stands."""
    await session.execute(
        insert(contact_moment_changes).values(
            contact_moment_id=record.id,
            version=record.version,
            kind=event_type.value,
            reason=reason,
            actor_kind=actor.kind.value,
            actor_id=actor.id,
            changes=changes,
        )
    )
    await _sync_links(session, record)
    await outbox.add_many(session, [_event(event_type, record, actor, previous_relation_ids)])


async def _sync_links(session: AsyncSession, record: MomentRecord) -> None:
    # A moment links a handful of relations: rewriting its links is simpler than diffing them.
    await session.execute(
        delete(contact_moment_links).where(contact_moment_links.c.contact_moment_id == record.id)
    )
    if record.relation_ids:
        await session.execute(
            insert(contact_moment_links),
            [
                {
                    "contact_moment_id": record.id,
                    "relation_id": relation_id,
                    "occurred_at": record.occurred_at,
                    "kind": record.kind,
                    "deleted": record.deleted,
                }
                for relation_id in record.relation_ids
            ],
        )


async def log_moment(
    session: AsyncSession,
    *,
    data: MomentInput,
    actor: Actor,
    email: dict[str, Any] | None = None,
    message_id: str | None = None,
) -> tuple[MomentRecord, bool]:
    """Log a moment; returns it and whether it is new.

    An e-mail (``message_id`` given) that was ingested before returns the moment made then.
    """
    await lock_relations(session, data.relation_ids)
    await check_linkable(session, data.relation_ids)
    inserting = pg_insert(contact_moments).values(
        id=uuid.uuid4(),
        version=1,
        kind=data.kind,
        direction=data.direction,
        subject=data.subject,
        notes=data.notes,
        occurred_at=data.occurred_at,
        user_id=_user_id(actor),
        relation_ids=data.relation_ids,
        source="manual" if message_id is None else "email",
        message_id=message_id,
        email=email,
    )
    if message_id is not None:
        # Two add-ins posting the same mail at once: the unique index picks one.
        inserting = inserting.on_conflict_do_nothing(
            index_elements=["message_id"], index_where=text("message_id IS NOT NULL")
        )
    statement = inserting.returning(contact_moments)
    row = (await session.execute(statement)).mappings().first()
    if row is None:
        existing = await find_by_message_id(session, message_id or "")
        assert existing is not None, "the conflicting moment is committed"
        return existing, False
    record = MomentRecord.from_row(row)
    changes = _diff({}, record.tracked())
    await _record(
        session,
        record,
        changes,
        ContactMomentEventType.LOGGED,
        actor,
        previous_relation_ids=[],
    )
    return record, True


async def find_by_message_id(session: AsyncSession, message_id: str) -> MomentRecord | None:
    row = (
        (
            await session.execute(
                select(contact_moments).where(contact_moments.c.message_id == message_id)
            )
        )
        .mappings()
        .first()
    )
    return MomentRecord.from_row(row) if row is not None else None


async def _save(
    session: AsyncSession,
    before: MomentRecord,
    values: dict[str, Any],
    event_type: ContactMomentEventType,
    actor: Actor,
    *,
    reason: str | None = None,
) -> MomentRecord:
    """Store ``values`` as the moment's next version, with history, links and event.

    A change that changes nothing stores nothing and returns the moment as it was.
    """
    after = MomentRecord(**{**before.__dict__, **values})
    changes = _diff(before.tracked(), after.tracked())
    if not changes and event_type == ContactMomentEventType.CHANGED:
        return before
    row = (
        (
            await session.execute(
                update(contact_moments)
                .where(contact_moments.c.id == before.id)
                .values(**values, version=contact_moments.c.version + 1, updated_at=func.now())
                .returning(contact_moments)
            )
        )
        .mappings()
        .one()
    )
    record = MomentRecord.from_row(row)
    await _record(
        session,
        record,
        changes,
        event_type,
        actor,
        previous_relation_ids=before.relation_ids,
        reason=reason,
    )
    return record


async def change_moment(
    session: AsyncSession,
    *,
    moment_id: uuid.UUID,
    expected_version: int,
    patch: MomentPatch,
    actor: Actor,
) -> MomentRecord:
    """Change a moment, refusing a stale version (optimistic concurrency)."""
    record = await get_live_record(session, moment_id, for_update=True)
    check_version(f"contact moment {record.id}", record.version, expected_version)
    values = patch.model_dump(exclude_unset=True)
    if any(v is None for v in values.values()):
        raise InvalidInput(
            [
                FieldError(("body", name), "cannot be cleared")
                for name, value in values.items()
                if value is None
            ]
        )
    if "relation_ids" in values:
        added = [r for r in values["relation_ids"] if r not in record.relation_ids]
        await lock_relations(session, added)
        await check_linkable(session, added, loc="relation_ids")
    return await _save(session, record, values, ContactMomentEventType.CHANGED, actor)


async def delete_moment(
    session: AsyncSession,
    *,
    moment_id: uuid.UUID,
    expected_version: int | None,
    actor: Actor,
) -> MomentRecord:
    """Soft-delete a moment: it leaves every timeline; its history remains. Idempotent."""
    record = await get_record(session, moment_id, for_update=True)
    if record.deleted:
        return record
    check_version(f"contact moment {record.id}", record.version, expected_version)
    return await _save(
        session,
        record,
        {"deleted_at": datetime.now(UTC)},
        ContactMomentEventType.DELETED,
        actor,
    )


# --- following merges and erasures of relations --------------------------------------------


async def _moments_linked_to(session: AsyncSession, relation_id: uuid.UUID) -> list[MomentRecord]:
    """Every moment linked to the relation, deleted ones included, locked, in id order."""
    ids = select(contact_moment_links.c.contact_moment_id).where(
        contact_moment_links.c.relation_id == relation_id
    )
    rows = await session.execute(
        select(contact_moments)
        .where(contact_moments.c.id.in_(ids))
        .order_by(contact_moments.c.id)
        .with_for_update()
    )
    return [MomentRecord.from_row(row) for row in rows.mappings()]


async def repoint_relation(
    session: AsyncSession, *, merged_id: uuid.UUID, survivor_id: uuid.UUID, actor: Actor
) -> list[MomentRecord]:
    """Link the merged relation's moments to the survivor instead (once, keeping order)."""
    changed = []
    for record in await _moments_linked_to(session, merged_id):
        relation_ids = list(
            dict.fromkeys(survivor_id if r == merged_id else r for r in record.relation_ids)
        )
        changed.append(
            await _save(
                session,
                record,
                {"relation_ids": relation_ids},
                ContactMomentEventType.CHANGED,
                actor,
                reason="relation.merged",
            )
        )
    return changed


_FORGET_HISTORY_VALUES = text(
    """
    UPDATE contact_moment_changes
    SET changes = COALESCE(
        (SELECT jsonb_object_agg(key, '{"old": null, "new": null}'::jsonb)
         FROM jsonb_object_keys(changes) AS key),
        '{}'::jsonb)
    WHERE contact_moment_id = :moment_id
    """
)


async def unlink_relation(
    session: AsyncSession, *, relation_id: uuid.UUID, actor: Actor
) -> list[MomentRecord]:
    """Remove an erased relation from its moments.

    A moment left without relations is deleted and its content wiped (subject, notes, the
    e-mail's addresses, the values in its history, its follow-ups' notes): it was about the
    erased person alone.
    """
    changed = []
    for record in await _moments_linked_to(session, relation_id):
        relation_ids = [r for r in record.relation_ids if r != relation_id]
        if relation_ids:
            changed.append(
                await _save(
                    session,
                    record,
                    {"relation_ids": relation_ids},
                    ContactMomentEventType.CHANGED,
                    actor,
                    reason="relation.erased",
                )
            )
            continue
        wiped = await _save(
            session,
            record,
            {
                "relation_ids": [],
                "subject": "",
                "notes": "",
                "email": None,
                "message_id": None,
                "deleted_at": record.deleted_at or datetime.now(UTC),
            },
            ContactMomentEventType.DELETED,
            actor,
            reason="relation.erased",
        )
        await session.execute(_FORGET_HISTORY_VALUES, {"moment_id": record.id})
        await session.execute(  # what was to be done about the erased person goes too
            update(follow_ups).where(follow_ups.c.contact_moment_id == record.id).values(note="")
        )
        changed.append(wiped)
    return changed
