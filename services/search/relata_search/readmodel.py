"""Applying relation events to the read model: newest version wins, tombstones are final.

Every change takes the next ``seq`` under one transaction-scoped advisory lock, so ``seq``
order is commit order and a follower tailing ``seq`` never skips a change committed late.
"""

from __future__ import annotations

import uuid

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

_UPSERT = text(
    """
    INSERT INTO search_documents (relation_id, version, status, document, seq)
    VALUES (:relation_id, :version, :status, CAST(:document AS jsonb),
            nextval('search_change_seq'))
    ON CONFLICT (relation_id) DO UPDATE
       SET version = excluded.version, status = excluded.status,
           document = excluded.document, seq = excluded.seq, updated_at = now()
     WHERE search_documents.version < excluded.version
       AND search_documents.status <> 'erased'
    RETURNING seq
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


async def lock_changes(session: AsyncSession) -> None:
    """Take the seq lock for this transaction and wake the followers when it commits."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:key), pg_notify(:channel, '')"),
        {"key": SEQ_LOCK, "channel": CHANGES_CHANNEL},
    )


async def apply_relation_event(session: AsyncSession, envelope: Envelope) -> None:
    if envelope.type in (
        RelationEventType.CREATED,
        RelationEventType.UPDATED,
        RelationEventType.RESTORED,
    ):
        changed = RelationChangedPayload.model_validate(envelope.payload)
        state = changed.state
        version = envelope.subject_version or state.version
        await lock_changes(session)
        if state.status != RelationStatus.ACTIVE:
            await _tombstone(session, state.relation_id, version, state.status)
            return
        document = orjson.dumps(document_from_state(state)).decode()
        await session.execute(
            _UPSERT,
            {
                "relation_id": state.relation_id,
                "version": version,
                "status": RelationStatus.ACTIVE.value,
                "document": document,
            },
        )
    elif envelope.type == RelationEventType.MERGED:
        merged = RelationMergedPayload.model_validate(envelope.payload)
        version = envelope.subject_version or merged.state.version
        await lock_changes(session)
        await _tombstone(session, merged.merged_id, version, RelationStatus.MERGED)
    elif envelope.type == RelationEventType.ERASED:
        erased = RelationErasedPayload.model_validate(envelope.payload)
        await lock_changes(session)
        await session.execute(
            _ERASE,
            {"relation_id": erased.relation_id, "version": envelope.subject_version or 0},
        )
        await _forget_memberships(session, erased.relation_id)
    else:
        raise PoisonEvent(f"unknown event type {envelope.type!r} on the relations topic")


async def _tombstone(
    session: AsyncSession, relation_id: uuid.UUID, version: int, status: str
) -> None:
    result = await session.execute(
        _UPSERT,
        {"relation_id": relation_id, "version": version, "status": status, "document": None},
    )
    if result.first() is not None:
        await _forget_memberships(session, relation_id)


async def _forget_memberships(session: AsyncSession, relation_id: uuid.UUID) -> None:
    await session.execute(
        text("DELETE FROM memberships WHERE relation_id = :id"), {"id": relation_id}
    )


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
