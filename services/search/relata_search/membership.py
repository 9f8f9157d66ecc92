"""Applying list membership events: which lists (and so which views) each relation is in.

Entered/left are idempotent set operations; a relation that is merged or erased is in no list.
A membership may arrive before the relation itself (another topic): it is kept, and the
relation's document picks it up when it is indexed.
"""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from relata_common.events import Envelope, MembershipEventType, MembershipPayload
from relata_common.kafka import PoisonEvent

_ENTER = text(
    """
    INSERT INTO memberships (relation_id, list_id)
    SELECT e.relation_id, e.list_id
      FROM unnest(CAST(:relation_ids AS uuid[]), CAST(:list_ids AS uuid[]))
           AS e(relation_id, list_id)
     WHERE NOT EXISTS (SELECT 1 FROM search_documents d
                        WHERE d.relation_id = e.relation_id AND d.status <> 'active')
    ON CONFLICT DO NOTHING
    """
)
_LEAVE = text(
    """
    DELETE FROM memberships m
     USING unnest(CAST(:relation_ids AS uuid[]), CAST(:list_ids AS uuid[]))
           AS l(relation_id, list_id)
     WHERE m.relation_id = l.relation_id AND m.list_id = l.list_id
    """
)
# The documents must be re-indexed with their new lists: a new seq makes the followers do that.
_TOUCH = text(
    """
    UPDATE search_documents SET seq = nextval('search_change_seq'), updated_at = now()
     WHERE relation_id = ANY(CAST(:relation_ids AS uuid[])) AND status = 'active'
    """
)


async def apply_membership_events(session: AsyncSession, envelopes: list[Envelope]) -> None:
    """Apply a batch of membership events (the caller holds the seq lock).

    The lists service publishes a relation's events in order, so for each relation and list
    the last event of the batch is the one that holds."""
    last: dict[tuple[uuid.UUID, uuid.UUID], bool] = {}
    for envelope in envelopes:
        if envelope.type not in (MembershipEventType.ENTERED, MembershipEventType.LEFT):
            raise PoisonEvent(f"unknown event type {envelope.type!r} on the membership topic")
        payload = MembershipPayload.model_validate(envelope.payload)
        key = (payload.relation_id, payload.list_id)
        last.pop(key, None)  # re-inserted: the dict keeps the order of the last events
        last[key] = envelope.type == MembershipEventType.ENTERED
    for statement, entered in ((_ENTER, True), (_LEAVE, False)):
        pairs = [pair for pair, enters in last.items() if enters is entered]
        if pairs:
            relation_ids, list_ids = (list(column) for column in zip(*pairs, strict=True))
            await session.execute(statement, {"relation_ids": relation_ids, "list_ids": list_ids})
    if last:
        touched = list(dict.fromkeys(relation_id for relation_id, _ in last))
        await session.execute(_TOUCH, {"relation_ids": touched})
