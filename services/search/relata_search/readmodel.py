"""Applying relation events to the read model: newest version wins, tombstones are final.

Every change takes the next ``seq`` under one transaction-scoped advisory lock, so ``seq``
order is commit order and a follower tailing ``seq`` never skips a change committed late.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from relata_common.events import (
    Envelope,
    RelationChangedPayload,
    RelationErasedPayload,
    RelationEventType,
    RelationMergedPayload,
    RelationStatus,
)
from relata_common.kafka import PoisonEvent
from relata_search.documents import document_from_state

SEQ_LOCK = 7_237_501  # advisory lock key: serialises seq assignment across replicas
CHANGES_CHANNEL = "search_changes"

# Newest version wins, erased is final; several relations in one statement (a JSON array).
_UPSERT = text(
    """
    INSERT INTO search_documents (relation_id, version, status, document, seq)
    SELECT r.relation_id, r.version, r.status, r.document, nextval('search_change_seq')
      FROM jsonb_to_recordset(CAST(:rows AS jsonb))
           AS r(relation_id uuid, version integer, status text, document jsonb)
    ON CONFLICT (relation_id) DO UPDATE
       SET version = excluded.version, status = excluded.status,
           document = excluded.document, seq = excluded.seq, updated_at = now()
     WHERE search_documents.version < excluded.version
       AND search_documents.status <> 'erased'
    RETURNING relation_id, status
    """
)

_ERASE = text(
    """
    INSERT INTO search_documents (relation_id, version, status, document, seq)
    VALUES (:relation_id, :version, 'erased', NULL, nextval('search_change_seq'))
    ON CONFLICT (relation_id) DO UPDATE
       SET version = GREATEST(search_documents.version, excluded.version), status = 'erased',
           document = NULL, seq = excluded.seq, updated_at = now()
    """
)

_FORGET_MEMBERSHIPS = text("DELETE FROM memberships WHERE relation_id = ANY(:ids)")


async def lock_changes(session: AsyncSession) -> None:
    """Take the seq lock for this transaction and wake the followers when it commits."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:key), pg_notify(:channel, '')"),
        {"key": SEQ_LOCK, "channel": CHANGES_CHANNEL},
    )


async def apply_relation_events(session: AsyncSession, envelopes: list[Envelope]) -> None:
    """Apply a batch of relation events (the caller holds the seq lock).

    Every event is judged by its version (erasure by being final), so the outcome does not
    depend on the order within the batch: each relation's newest version is written, in one
    statement for the whole batch. A relation that leaves (merged, archived, erased) is in no
    list any more."""
    newest: dict[uuid.UUID, dict[str, Any]] = {}
    erased: list[tuple[uuid.UUID, int]] = []
    for envelope in envelopes:
        row = _row_of(envelope)
        if row is None:
            erased_payload = RelationErasedPayload.model_validate(envelope.payload)
            erased.append((erased_payload.relation_id, envelope.subject_version or 0))
            continue
        held = newest.get(row["relation_id"])
        if held is None or held["version"] <= row["version"]:
            newest[row["relation_id"]] = row
    left: list[uuid.UUID] = []
    if newest:
        rows = [{**row, "relation_id": str(row["relation_id"])} for row in newest.values()]
        written = await session.execute(_UPSERT, {"rows": orjson.dumps(rows).decode()})
        left = [row.relation_id for row in written if row.status != "active"]
    for relation_id, version in erased:
        await session.execute(_ERASE, {"relation_id": relation_id, "version": version})
        left.append(relation_id)
    if left:
        await session.execute(_FORGET_MEMBERSHIPS, {"ids": left})


def _row_of(envelope: Envelope) -> dict[str, Any] | None:
    """The document row an event writes; None for an erasure (which writes no document)."""
    if envelope.type in (
        RelationEventType.CREATED,
        RelationEventType.UPDATED,
        RelationEventType.RESTORED,
    ):
        state = RelationChangedPayload.model_validate(envelope.payload).state
        version = envelope.subject_version or state.version
        if state.status != RelationStatus.ACTIVE:
            return _tombstone(state.relation_id, version, state.status)
        document = document_from_state(state)
        return {
            "relation_id": state.relation_id,
            "version": version,
            "status": RelationStatus.ACTIVE.value,
            "document": document,
        }
    if envelope.type == RelationEventType.MERGED:
        merged = RelationMergedPayload.model_validate(envelope.payload)
        version = envelope.subject_version or merged.state.version
        return _tombstone(merged.merged_id, version, RelationStatus.MERGED)
    if envelope.type == RelationEventType.ERASED:
        return None
    raise PoisonEvent(f"unknown event type {envelope.type!r} on the relations topic")


def _tombstone(relation_id: uuid.UUID, version: int, status: str) -> dict[str, Any]:
    return {"relation_id": relation_id, "version": version, "status": status, "document": None}


async def start_rebuild(session: AsyncSession) -> int:
    """Empty the read model and start a new generation: its consumer group replays the topics.

    Every search process sees the new generation, empties its index and refills it as the
    replay proceeds. Returns the new generation.
    """
    await lock_changes(session)
    await session.execute(text("TRUNCATE search_documents, memberships, inbox"))
    generation = await session.scalar(
        text("UPDATE search_generation SET generation = generation + 1 RETURNING generation")
    )
    return int(generation)
