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
from datetime import date
from typing import Any

import asyncpg
import orjson
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from relata_common.events import (
    ContactMomentEventType,
    DonationReceivedPayload,
    Envelope,
    RegistrationPayload,
    RelationEventType,
)
from relata_common.fields import (
    STANDARD_FIELDS,
    STATE_SOURCES,
    display_name,
    filter_values,
    timestamp,
)
from relata_common.kafka import PoisonEvent
from relata_lists.compiler import (
    CONTACT_MOMENTS,
    DONATIONS,
    FUNCTIONS,
    REGISTRATIONS,
    STATUS,
    field_aspect,
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
    spec.column: (spec.source, spec.item_key) for spec in STANDARD_FIELDS.values() if spec.multi
}
MAX_MERGE_CHAIN = 20
SCALAR_FIELDS = tuple(
    spec.column
    for spec in STANDARD_FIELDS.values()
    if spec.type in ("text", "choice") and not spec.multi and spec.source not in STATE_SOURCES
)
"""Text and choice columns read from a relation's fields as they are."""


@dataclass
class Cause:
    event_id: uuid.UUID | None
    event_type: str


Values = frozenset[str]


@dataclass
class Touch:
    aspects: set[str] = field(default_factory=set)
    cause: Cause | None = None
    values: dict[str, tuple[Values, Values]] = field(default_factory=dict)
    """Old and new values of touched multi-valued columns (cities, ...), by aspect: a list on
    "city equals Zwolle" need not be re-checked when a relation moves from Ede to Oss."""
    locked: bool = False
    """The relation's read model row is locked by this transaction already."""


Touches = dict[uuid.UUID, Touch]


def touch(
    touches: Touches,
    relation_id: uuid.UUID,
    aspects: set[str],
    cause: Cause,
    values: dict[str, tuple[Values, Values]] | None = None,
) -> None:
    entry = touches.setdefault(relation_id, Touch())
    for aspect in aspects:
        if aspect in entry.aspects:
            entry.values.pop(aspect, None)  # touched twice: which values were before is unknown
        elif values and aspect in values:
            entry.values[aspect] = values[aspect]
    entry.aspects |= aspects
    entry.cause = cause  # the latest event that touched it


def sort_name(relation_type: str, fields: dict[str, Any]) -> str:
    if relation_type == "organisation":
        return fields.get("organisation_name", "").lower()
    return f"{fields.get('last_name', '')} {fields.get('first_name', '')}".strip().lower()


def relation_row(state: dict[str, Any]) -> dict[str, Any]:
    """A relation's full state (as its events carry it) as a read model row: the values a
    filter compares (see :func:`relata_common.fields.filter_values`) and how it is named."""
    fields = state.get("fields", {})
    return {
        "relation_id": uuid.UUID(str(state["relation_id"])),
        "version": state["version"],
        "status": state.get("status", "active"),
        "merged_into": state.get("merged_into"),
        "display_name": display_name(fields, state["relation_type"]),
        "sort_name": sort_name(state["relation_type"], fields),
        **filter_values(state),
    }


# Read model columns a filter can compare, besides ``status`` and ``custom``: an event that
# leaves all of them (and the functions) as they were cannot change any list membership.
COMPARED_COLUMNS = (
    "relation_type",
    "relation_number",
    *SCALAR_FIELDS,
    "birth_date",
    "created_at",
    "updated_at",
    *MULTI_FIELDS,
)
FunctionKey = tuple[str, str, str, str, str | None]


def function_key(function: dict[str, Any]) -> FunctionKey:
    """A function as comparable text: (function_id, object_id, role, start, end)."""
    end = function.get("end_date")
    return (
        str(uuid.UUID(str(function["function_id"]))),
        str(uuid.UUID(str(function["object_id"]))),
        str(function["role"]),
        date.fromisoformat(str(function["start_date"])).isoformat(),
        date.fromisoformat(str(end)).isoformat() if end else None,
    )


def _same_json(old: Any, new: Any) -> bool:
    """Equal as JSON values, types included (``True == 1`` in Python, not in a filter)."""
    return orjson.dumps(old, option=orjson.OPT_SORT_KEYS) == orjson.dumps(
        new, option=orjson.OPT_SORT_KEYS
    )


def changed_aspects(
    held: _Held | None,
    row: dict[str, Any],
    functions_changed: bool,
) -> set[str]:
    """What a new state changes for filters, by comparing it with the held read model row.

    Only values that differ count: a ``relation.updated`` that changes the phone number
    touches the lists on phone numbers, not the lists on cities, whatever the event says.
    """
    if held is None:
        return {STATUS}  # a relation not seen before may enter any list
    changed = {STATUS} if held.row["status"] != row["status"] else set()
    changed |= {field_aspect(c) for c in COMPARED_COLUMNS if held.row[c] != row[c]}
    old_custom, new_custom = held.custom or {}, row["custom"] or {}
    changed |= {
        field_aspect(f"custom.{key}")
        for key in old_custom.keys() | new_custom.keys()
        if key not in old_custom
        or key not in new_custom
        or not _same_json(old_custom[key], new_custom[key])
    }
    if functions_changed:
        changed.add(FUNCTIONS)
    return changed


def multi_values(held: _Held | None, row: dict[str, Any]) -> dict[str, tuple[Values, Values]]:
    """Old and new values of the multi-valued columns that changed, by aspect."""
    if held is None:
        return {}
    return {
        field_aspect(column): (frozenset(held.row[column]), frozenset(row[column]))
        for column in MULTI_FIELDS
        if held.row[column] != row[column]
    }


async def apply_events(session: AsyncSession, envelopes: list[Envelope]) -> Touches:
    """Apply a batch of events, relation states first, and say which relations they touched."""
    touches: Touches = {}
    relation_events = [e for e in envelopes if e.type in RELATION_EVENT_TYPES]
    await _apply_relation_states(session, relation_events, touches)
    for envelope in envelopes:
        if envelope.type in RELATION_EVENT_TYPES:
            continue
        cause = Cause(envelope.event_id, envelope.type)
        if envelope.type in CONTACT_MOMENT_EVENT_TYPES:
            await _apply_contact_moment(session, envelope, touches, cause)
        elif envelope.type == "donation.received":
            await _apply_donation(session, envelope, touches, cause)
        elif envelope.type in ("registration.created", "registration.cancelled"):
            await _apply_registration(session, envelope, touches, cause)
    return touches


RELATION_EVENT_TYPES = frozenset(RelationEventType)
CONTACT_MOMENT_EVENT_TYPES = frozenset(ContactMomentEventType)


@dataclass
class _Held:
    """A relation's read model row and its functions, as held before this batch."""

    row: asyncpg.Record
    custom: dict[str, Any]
    functions: frozenset[FunctionKey]


async def _apply_relation_states(
    session: AsyncSession, envelopes: list[Envelope], touches: Touches
) -> None:
    """Apply the newest state of each relation in a few statements for the whole batch."""
    by_subject: dict[str, list[Envelope]] = {}
    for envelope in envelopes:
        by_subject.setdefault(envelope.subject_id, []).append(envelope)
    newest = {
        uuid.UUID(subject): max(events, key=lambda e: e.subject_version or 0)
        for subject, events in by_subject.items()
    }
    held = await _held_rows(session, list(newest))
    # Not newer than held: a redelivery or an older duplicate, nothing to do.
    newest = {
        relation_id: envelope
        for relation_id, envelope in newest.items()
        if relation_id not in held
        or (envelope.subject_version or 0) > held[relation_id].row["version"]
    }
    rows: dict[uuid.UUID, dict[str, Any]] = {}
    functions: dict[uuid.UUID, frozenset[FunctionKey]] = {}
    for relation_id, envelope in newest.items():
        if envelope.type == RelationEventType.ERASED:
            continue
        state = envelope.payload.get("state")
        if not isinstance(state, dict):
            raise PoisonEvent(f"{envelope.type} without a state")
        rows[relation_id] = relation_row(state)
        functions[relation_id] = frozenset(map(function_key, state.get("functions") or []))
    applied = await _upsert_relations(session, list(rows.values()))
    replaced = {
        relation_id
        for relation_id in rows
        if relation_id in applied
        and (relation_id not in held or held[relation_id].functions != functions[relation_id])
    }
    await _replace_functions(session, {r: functions[r] for r in replaced})
    for relation_id, envelope in newest.items():
        if relation_id not in applied:
            continue
        cause = Cause(envelope.event_id, envelope.type)
        old = held.get(relation_id)
        aspects = changed_aspects(old, rows[relation_id], relation_id in replaced)
        if any(e.type != RelationEventType.UPDATED for e in by_subject[envelope.subject_id]):
            aspects.add(STATUS)  # created, restored, merged: every list may change
        if aspects:
            touch(touches, relation_id, aspects, cause, multi_values(old, rows[relation_id]))
            touches[relation_id].locked = True  # read for update, or written, above
        if envelope.type == RelationEventType.MERGED:
            # The survivor may have been merged on, or erased, already.
            survivor = await _resolve(session, uuid.UUID(str(envelope.payload["survivor_id"])))
            if survivor is None:
                await _drop_facts(session, relation_id)
                continue
            await _move_facts(session, relation_id, survivor)
            touch(touches, survivor, {DONATIONS, REGISTRATIONS, CONTACT_MOMENTS}, cause)
    for envelope in newest.values():
        if envelope.type == RelationEventType.ERASED:
            await _erase(session, envelope, touches)


async def driver_connection(session: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection under the session, in the session's transaction: the few
    statements run per batch go straight to it, without SQLAlchemy's per-row processing."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert isinstance(driver, asyncpg.Connection)  # the engine's driver is asyncpg
    return driver


# The held rows of a batch's relations with their functions, locked: see _held_rows.
HELD_ROWS = """
SELECT held.*, held.custom::text AS custom_json,
       (SELECT coalesce(jsonb_agg(jsonb_build_array(
                   f.function_id, f.object_id, f.role, f.start_date, f.end_date)), '[]')::text
          FROM rm_functions f WHERE f.subject_id = held.relation_id) AS functions_json
  FROM rm_relations held
 WHERE held.relation_id = ANY($1::uuid[])
 ORDER BY held.relation_id
   FOR UPDATE OF held
"""


async def _held_rows(
    session: AsyncSession, relation_ids: list[uuid.UUID]
) -> dict[uuid.UUID, _Held]:
    """The held rows and functions of these relations, locked.

    The lock (in id order, as every evaluation takes it) keeps another worker from changing a
    row between this comparison and this batch's write: a partition handed over mid-batch
    must not make a change look like no change.
    """
    if not relation_ids:
        return {}
    connection = await driver_connection(session)
    return {
        record["relation_id"]: _Held(
            record,
            orjson.loads(record["custom_json"]),
            frozenset(map(tuple, orjson.loads(record["functions_json"]))),
        )
        for record in await connection.fetch(HELD_ROWS, relation_ids)
    }


# One statement per batch, whatever its size: the rows travel as one JSON array parameter and
# PostgreSQL turns them into records of the table itself.
ROWS = "CAST($1::text AS jsonb)"
UPSERT_RELATIONS = (
    "INSERT INTO rm_relations AS held"
    f" SELECT * FROM jsonb_populate_recordset(NULL::rm_relations, {ROWS})"
    " ON CONFLICT (relation_id) DO UPDATE SET "
    + ", ".join(f"{c.name} = excluded.{c.name}" for c in rm_relations.c if c.name != "relation_id")
    + " WHERE held.version < excluded.version"
    " RETURNING relation_id"
)
DELETE_FUNCTIONS = "DELETE FROM rm_functions WHERE subject_id = ANY($1::uuid[])"
INSERT_FUNCTIONS = (
    "INSERT INTO rm_functions"
    f" SELECT * FROM jsonb_populate_recordset(NULL::rm_functions, {ROWS})"
    " ON CONFLICT DO NOTHING"
)


async def _upsert_relations(session: AsyncSession, rows: list[dict[str, Any]]) -> set[uuid.UUID]:
    """Insert or update rows newer than held; returns the ids actually written."""
    if not rows:
        return set()
    connection = await driver_connection(session)
    written = await connection.fetch(UPSERT_RELATIONS, orjson.dumps(rows).decode())
    return {record[0] for record in written}


async def _replace_functions(
    session: AsyncSession, functions: dict[uuid.UUID, frozenset[FunctionKey]]
) -> None:
    """Replace the functions of these relations (those whose functions changed)."""
    if not functions:
        return
    connection = await driver_connection(session)
    await connection.execute(DELETE_FUNCTIONS, sorted(functions))
    rows = [
        {
            "function_id": function_id,
            "subject_id": subject_id,
            "object_id": object_id,
            "role": role,
            "start_date": start,
            "end_date": end,
        }
        for subject_id, keys in functions.items()
        for function_id, object_id, role, start, end in sorted(keys)
    ]
    if rows:
        await connection.execute(INSERT_FUNCTIONS, orjson.dumps(rows).decode())


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
        occurred_at = timestamp(state["occurred_at"])
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
    upsert = statement.on_conflict_do_update(
        index_elements=[rm_contact_moments.c.contact_moment_id],
        set_={k: statement.excluded[k] for k in ("version", "occurred_at", "deleted", *values)},
        where=rm_contact_moments.c.version < statement.excluded.version,
    ).returning(rm_contact_moments.c.contact_moment_id)
    if (await session.execute(upsert)).first() is None:
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
            currency=donation.currency,
            campaign=donation.campaign,
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
        event_date=registration.event_date,
        # A cancellation seen first (out of order) leaves the time of registering unknown.
        registered_at=None if cancelled else envelope.occurred_at,
    )
    excluded = statement.excluded
    upsert = statement.on_conflict_do_update(
        index_elements=[rm_registrations.c.registration_id],
        set_={
            "status": excluded.status,
            "event_date": func.coalesce(excluded.event_date, rm_registrations.c.event_date),
            "registered_at": func.coalesce(
                rm_registrations.c.registered_at, excluded.registered_at
            ),
        },
        where=rm_registrations.c.status != excluded.status,
    ).returning(rm_registrations.c.registration_id)
    if (await session.execute(upsert)).first() is not None:
        touch(touches, owner, {REGISTRATIONS}, cause)
