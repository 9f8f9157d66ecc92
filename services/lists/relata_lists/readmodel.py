"""The read model: applying relation, contact moment, donation and registration events.

Every event is applied only when it is newer than what is held (relation versions, contact
moment versions) or not yet held (donations, registrations), so redelivery, replays and
out-of-order duplicates change nothing. Each applied change is noted as a *touch*: which
relation, what aspect of it changed, and which event caused it; membership evaluation
re-checks only those.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from relata_common.events import (
    ContactMomentEventType,
    DonationReceivedPayload,
    Envelope,
    RegistrationPayload,
    RelationEventType,
)
from relata_common.kafka import PoisonEvent
from relata_lists.compiler import (
    CONTACT_MOMENTS,
    DONATIONS,
    REGISTRATIONS,
    STATUS,
)
from relata_lists.models import (
    rm_contact_links,
    rm_contact_moments,
    rm_donations,
    rm_functions,
    rm_registrations,
    rm_relations,
)

MULTI_FIELDS = {
    "streets": ("addresses", "street"),
    "postal_codes": ("addresses", "postal_code"),
    "cities": ("addresses", "city"),
    "countries": ("addresses", "country"),
    "emails": ("emails", "address"),
    "phones": ("phones", "number"),
}
MAX_MERGE_CHAIN = 20
SCALAR_FIELDS = (
    "first_name",
    "initials",
    "infix",
    "last_name",
    "organisation_name",
    "salutation",
    "gender",
    "coc_number",
)


@dataclass
class Cause:
    event_id: uuid.UUID | None
    event_type: str


@dataclass
class Touch:
    aspects: set[str] = field(default_factory=set)
    cause: Cause | None = None


Touches = dict[uuid.UUID, Touch]


def touch(touches: Touches, relation_id: uuid.UUID, aspects: set[str], cause: Cause) -> None:
    entry = touches.setdefault(relation_id, Touch())
    entry.aspects |= aspects
    entry.cause = cause  # the latest event that touched it


def display_name(relation_type: str, fields: dict[str, Any]) -> str:
    if relation_type == "organisation":
        return fields.get("organisation_name", "")
    parts = [
        fields.get("first_name") or fields.get("initials"),
        fields.get("infix"),
        fields.get("last_name"),
    ]
    return " ".join(p for p in parts if p)


def sort_name(relation_type: str, fields: dict[str, Any]) -> str:
    if relation_type == "organisation":
        return fields.get("organisation_name", "").lower()
    return f"{fields.get('last_name', '')} {fields.get('first_name', '')}".strip().lower()


def relation_row(state: dict[str, Any]) -> dict[str, Any]:
    """A relation's full state (as its events carry it) as a read model row."""
    fields = state.get("fields", {})
    row: dict[str, Any] = {
        "relation_id": uuid.UUID(str(state["relation_id"])),
        "version": state["version"],
        "relation_type": state["relation_type"],
        "status": state.get("status", "active"),
        "merged_into": state.get("merged_into"),
        "relation_number": state.get("relation_number"),
        "display_name": display_name(state["relation_type"], fields),
        "sort_name": sort_name(state["relation_type"], fields),
        "birth_date": date.fromisoformat(fields["birth_date"])
        if fields.get("birth_date")
        else None,
        "created_at": _timestamp(state.get("created_at")),
        "updated_at": _timestamp(state.get("updated_at")),
        "custom": fields.get("custom", {}),
    }
    row.update({name: fields.get(name) for name in SCALAR_FIELDS})
    for column, (source, key) in MULTI_FIELDS.items():
        row[column] = [str(item[key]).lower() for item in fields.get(source, []) if item.get(key)]
    return row


def _timestamp(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _relation_aspects(envelopes: list[Envelope], held: int | None) -> set[str]:
    """What the events of one relation newer than the held version changed, together.

    Only the newest state is applied, so the changes of every newer event in the batch count;
    a new relation, or a gap in the versions (an event not seen), may have changed anything.
    """
    newer = {e.subject_version or 0: e for e in envelopes if (e.subject_version or 0) > (held or 0)}
    versions = sorted(newer)
    changed = {"*"}
    if held is None or versions != list(range(held + 1, held + 1 + len(versions))):
        changed.add(STATUS)
    for envelope in newer.values():
        changed |= set(envelope.payload.get("changed_fields", []))
        if envelope.type != RelationEventType.UPDATED:
            changed.add(STATUS)  # created, restored, merged, erased: every list may change
    return changed


async def apply_events(session: AsyncSession, envelopes: list[Envelope]) -> Touches:
    """Apply a batch of events, relation states first, and say which relations they touched."""
    touches: Touches = {}
    relation_events = [e for e in envelopes if e.type in set(RelationEventType)]
    await _apply_relation_states(session, relation_events, touches)
    for envelope in envelopes:
        cause = Cause(envelope.event_id, envelope.type)
        if envelope.type in set(ContactMomentEventType):
            await _apply_contact_moment(session, envelope, touches, cause)
        elif envelope.type == "donation.received":
            await _apply_donation(session, envelope, touches, cause)
        elif envelope.type in ("registration.created", "registration.cancelled"):
            await _apply_registration(session, envelope, touches, cause)
    return touches


async def _apply_relation_states(
    session: AsyncSession, envelopes: list[Envelope], touches: Touches
) -> None:
    by_subject: dict[str, list[Envelope]] = {}
    for envelope in envelopes:
        by_subject.setdefault(envelope.subject_id, []).append(envelope)
    newest = {
        subject: max(events, key=lambda e: e.subject_version or 0)
        for subject, events in by_subject.items()
    }
    held = await _held_versions(session, [uuid.UUID(subject) for subject in newest])
    rows, erased = [], []
    for envelope in newest.values():
        if envelope.type == RelationEventType.ERASED:
            erased.append(envelope)
            continue
        state = envelope.payload.get("state")
        if not isinstance(state, dict):
            raise PoisonEvent(f"{envelope.type} without a state")
        rows.append(relation_row(state))
    applied = await _upsert_relations(session, rows)
    for envelope in newest.values():
        relation_id = uuid.UUID(envelope.subject_id)
        if envelope.type == RelationEventType.ERASED:
            continue
        if relation_id not in applied:
            continue
        cause = Cause(envelope.event_id, envelope.type)
        functions = envelope.payload["state"].get("functions", [])
        await _replace_functions(session, relation_id, functions)
        aspects = _relation_aspects(by_subject[envelope.subject_id], held.get(relation_id))
        touch(touches, relation_id, aspects, cause)
        if envelope.type == RelationEventType.MERGED:
            # The survivor may have been merged on, or erased, already.
            survivor = await _resolve(session, uuid.UUID(str(envelope.payload["survivor_id"])))
            if survivor is None:
                await _drop_facts(session, relation_id)
                continue
            await _move_facts(session, relation_id, survivor)
            touch(touches, survivor, {DONATIONS, REGISTRATIONS, CONTACT_MOMENTS}, cause)
    for envelope in erased:
        await _erase(session, envelope, touches)


async def _held_versions(
    session: AsyncSession, relation_ids: list[uuid.UUID]
) -> dict[uuid.UUID, int]:
    if not relation_ids:
        return {}
    rows = await session.execute(
        select(rm_relations.c.relation_id, rm_relations.c.version).where(
            rm_relations.c.relation_id.in_(relation_ids)
        )
    )
    return {row.relation_id: row.version for row in rows}


async def _upsert_relations(session: AsyncSession, rows: list[dict[str, Any]]) -> set[uuid.UUID]:
    """Insert or update rows newer than held; returns the ids actually written."""
    if not rows:
        return set()
    statement = insert(rm_relations)
    columns = {
        c.name: statement.excluded[c.name] for c in rm_relations.c if c.name != "relation_id"
    }
    statement = statement.on_conflict_do_update(
        index_elements=[rm_relations.c.relation_id],
        set_=columns,
        where=rm_relations.c.version < statement.excluded.version,
    ).returning(rm_relations.c.relation_id)
    applied: set[uuid.UUID] = set()
    for start in range(0, len(rows), 1000):
        result = await session.execute(statement, rows[start : start + 1000])
        applied |= set(result.scalars())
    return applied


async def _replace_functions(
    session: AsyncSession, relation_id: uuid.UUID, functions: list[dict[str, Any]]
) -> None:
    await session.execute(delete(rm_functions).where(rm_functions.c.subject_id == relation_id))
    if functions:
        await session.execute(
            insert(rm_functions).on_conflict_do_nothing(),
            [
                {
                    "function_id": uuid.UUID(str(f["function_id"])),
                    "subject_id": relation_id,
                    "object_id": uuid.UUID(str(f["object_id"])),
                    "role": f["role"],
                    "start_date": date.fromisoformat(str(f["start_date"])),
                    "end_date": date.fromisoformat(str(f["end_date"]))
                    if f.get("end_date")
                    else None,
                }
                for f in functions
            ],
        )


async def _move_facts(session: AsyncSession, merged: uuid.UUID, survivor: uuid.UUID) -> None:
    """Facts other modules recorded for the merged relation now belong to the survivor."""
    for table in (rm_donations, rm_registrations):
        await session.execute(
            update(table).where(table.c.relation_id == merged).values(relation_id=survivor)
        )
    links = rm_contact_links
    moved = select(links).where(links.c.relation_id == merged)
    rows = [dict(row) for row in (await session.execute(moved)).mappings()]
    await session.execute(delete(links).where(links.c.relation_id == merged))
    if rows:
        await session.execute(
            insert(links).on_conflict_do_nothing(),
            [{**row, "relation_id": survivor} for row in rows],
        )


async def _erase(session: AsyncSession, envelope: Envelope, touches: Touches) -> None:
    relation_id = uuid.UUID(envelope.subject_id)
    version = envelope.subject_version or 0
    result = await session.execute(
        update(rm_relations)
        .where(rm_relations.c.relation_id == relation_id, rm_relations.c.version < version)
        .values(
            version=version,
            status="erased",
            display_name="",
            sort_name="",
            **{name: None for name in SCALAR_FIELDS},
            birth_date=None,
            **{column: [] for column in MULTI_FIELDS},
            custom={},
        )
        .returning(rm_relations.c.relation_id)
    )
    if result.first() is None:
        return
    await _drop_facts(session, relation_id)
    touch(touches, relation_id, {STATUS}, Cause(envelope.event_id, envelope.type))


async def _drop_facts(session: AsyncSession, relation_id: uuid.UUID) -> None:
    """Remove everything held about a relation besides its (anonymised) row."""
    for table, column in (
        (rm_functions, rm_functions.c.subject_id),
        (rm_donations, rm_donations.c.relation_id),
        (rm_registrations, rm_registrations.c.relation_id),
        (rm_contact_links, rm_contact_links.c.relation_id),
    ):
        await session.execute(delete(table).where(column == relation_id))


async def _resolve(session: AsyncSession, relation_id: uuid.UUID) -> uuid.UUID | None:
    """The relation a fact belongs to now: the (last) survivor of merges; None once erased."""
    for _ in range(MAX_MERGE_CHAIN):
        row = (
            await session.execute(
                select(rm_relations.c.status, rm_relations.c.merged_into).where(
                    rm_relations.c.relation_id == relation_id
                )
            )
        ).first()
        if row is None:
            return relation_id  # not seen yet: keep the fact, the relation event follows
        if row.status == "erased":
            return None
        if row.status != "merged" or row.merged_into is None:
            return relation_id
        relation_id = row.merged_into  # merged into a relation that may be merged in turn
    return relation_id


async def _apply_contact_moment(
    session: AsyncSession, envelope: Envelope, touches: Touches, cause: Cause
) -> None:
    state = envelope.payload.get("state") or {}
    try:
        moment_id = uuid.UUID(str(state["contact_moment_id"]))
        version = int(state["version"])
        occurred_at = _timestamp(state["occurred_at"])
        values = {"kind": state["kind"], "direction": state["direction"]}
    except (KeyError, ValueError, TypeError) as error:
        raise PoisonEvent(f"contact moment event without a valid state: {error!r}") from None
    statement = insert(rm_contact_moments).values(
        contact_moment_id=moment_id,
        version=version,
        occurred_at=occurred_at,
        deleted=bool(state.get("deleted")),
        **values,
    )
    statement = statement.on_conflict_do_update(
        index_elements=[rm_contact_moments.c.contact_moment_id],
        set_={k: statement.excluded[k] for k in ("version", "occurred_at", "deleted", *values)},
        where=rm_contact_moments.c.version < statement.excluded.version,
    ).returning(rm_contact_moments.c.contact_moment_id)
    if (await session.execute(statement)).first() is None:
        return  # an older version than held
    links = rm_contact_links
    before = await session.execute(
        delete(links).where(links.c.contact_moment_id == moment_id).returning(links.c.relation_id)
    )
    affected = set(before.scalars())
    if not state.get("deleted"):
        targets = set()
        for raw in state.get("relation_ids", []):
            resolved = await _resolve(session, uuid.UUID(str(raw)))
            if resolved is not None:
                targets.add(resolved)
        if targets:
            await session.execute(
                insert(links).on_conflict_do_nothing(),
                [
                    {
                        "relation_id": t,
                        "contact_moment_id": moment_id,
                        "occurred_at": occurred_at,
                        **values,
                    }
                    for t in targets
                ],
            )
        affected |= targets
    for relation_id in affected:
        touch(touches, relation_id, {CONTACT_MOMENTS}, cause)


async def _apply_donation(
    session: AsyncSession, envelope: Envelope, touches: Touches, cause: Cause
) -> None:
    donation = DonationReceivedPayload.model_validate(envelope.payload)
    owner = await _resolve(session, donation.relation_id)
    if owner is None:
        return
    inserted = await session.execute(
        insert(rm_donations)
        .values(
            donation_id=donation.donation_id,
            relation_id=owner,
            amount=donation.amount,
            received_on=donation.received_on,
        )
        .on_conflict_do_nothing()
        .returning(rm_donations.c.donation_id)
    )
    if inserted.first() is not None:
        touch(touches, owner, {DONATIONS}, cause)


async def _apply_registration(
    session: AsyncSession, envelope: Envelope, touches: Touches, cause: Cause
) -> None:
    registration = RegistrationPayload.model_validate(envelope.payload)
    owner = await _resolve(session, registration.relation_id)
    if owner is None:
        return
    cancelled = envelope.type == "registration.cancelled"
    status = "cancelled" if cancelled else registration.status
    statement = insert(rm_registrations).values(
        registration_id=registration.registration_id,
        relation_id=owner,
        event_code=registration.event_code,
        status=status,
    )
    statement = statement.on_conflict_do_update(
        index_elements=[rm_registrations.c.registration_id],
        set_={"status": statement.excluded.status},
        where=rm_registrations.c.status != statement.excluded.status,
    ).returning(rm_registrations.c.registration_id)
    if (await session.execute(statement)).first() is not None:
        touch(touches, owner, {REGISTRATIONS}, cause)
