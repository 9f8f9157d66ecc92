"""Applying list membership events: which lists (and so which views) each relation is in.

Entered/left are idempotent set operations; a relation that is merged or erased is in no list.
A membership may arrive before the relation itself (another topic): it is kept, and the
relation's document picks it up when it is indexed.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from relata_common.events import Envelope, MembershipEventType, MembershipPayload
from relata_common.kafka import PoisonEvent
from relata_search.readmodel import lock_changes

_ENTER = text(
    """
    INSERT INTO memberships (relation_id, list_id)
    SELECT :relation_id, :list_id
     WHERE NOT EXISTS (SELECT 1 FROM search_documents
                        WHERE relation_id = :relation_id AND status <> 'active')
    ON CONFLICT DO NOTHING
    """
)
_LEAVE = text("DELETE FROM memberships WHERE relation_id = :relation_id AND list_id = :list_id")
# The document must be re-indexed with its new lists: a new seq makes the followers do that.
_TOUCH = text(
    """
    UPDATE search_documents SET seq = nextval('search_change_seq'), updated_at = now()
     WHERE relation_id = :relation_id AND status = 'active'
    """
)


async def apply_membership_event(session: AsyncSession, envelope: Envelope) -> None:
    if envelope.type not in (MembershipEventType.ENTERED, MembershipEventType.LEFT):
        raise PoisonEvent(f"unknown event type {envelope.type!r} on the membership topic")
    payload = MembershipPayload.model_validate(envelope.payload)
    values = {"relation_id": payload.relation_id, "list_id": payload.list_id}
    await lock_changes(session)
    statement = _ENTER if envelope.type == MembershipEventType.ENTERED else _LEAVE
    await session.execute(statement, values)
    await session.execute(_TOUCH, values)
