"""What this service does with ``crm.relations`` events.

- created / updated / restored: keep the relation's status and e-mail addresses (the read model
  e-mail ingestion matches against), when the event is newer than what is held;
- merged: the merged relation's moments move to the survivor (``contactmoment.changed`` each,
  with ``previous_relation_ids``), and its addresses are no longer matched;
- erased: the relation's links go; moments left without relations are deleted and wiped; its
  addresses are forgotten.
"""

from __future__ import annotations

from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relata_common.events import (
    RELATIONS_TOPIC,
    Envelope,
    RelationChangedPayload,
    RelationErasedPayload,
    RelationEventType,
    RelationMergedPayload,
)
from relata_common.kafka import EventConsumer, service_consumer
from relata_common.logging import get_logger
from relata_contactmoments import known_relations
from relata_contactmoments.models import inbox
from relata_contactmoments.moments import repoint_relation, unlink_relation
from relata_contactmoments.settings import ContactMomentsSettings

log = get_logger(__name__)

CONSUMED_TOPICS = (RELATIONS_TOPIC,)
_CHANGED = {RelationEventType.CREATED, RelationEventType.UPDATED, RelationEventType.RESTORED}


async def apply_relation_event(session: AsyncSession, envelope: Envelope) -> None:
    """Apply one relation event inside the consumer's transaction."""
    if envelope.type in _CHANGED:
        changed = RelationChangedPayload.model_validate(envelope.payload)
        state = changed.state
        await known_relations.apply_state(
            session,
            relation_id=state.relation_id,
            version=state.version,
            status=state.status.value,
            merged_into=state.merged_into,
            fields=state.fields,
        )
    elif envelope.type == RelationEventType.MERGED:
        merged = RelationMergedPayload.model_validate(envelope.payload)
        await known_relations.lock_relations(session, [merged.merged_id], exclusive=True)
        await known_relations.apply_state(
            session,
            relation_id=merged.merged_id,
            version=merged.state.version,
            status=merged.state.status.value,
            merged_into=merged.survivor_id,
            fields=merged.state.fields,
        )
        # Re-pointing is idempotent (nothing links the merged relation afterwards), so it
        # runs whatever the version check said: a moment logged late moves too.
        moved = await repoint_relation(
            session,
            merged_id=merged.merged_id,
            survivor_id=merged.survivor_id,
            actor=envelope.actor,
        )
        log.info("moments re-pointed after a merge", merged=str(merged.merged_id), moved=len(moved))
    elif envelope.type == RelationEventType.ERASED:
        erased = RelationErasedPayload.model_validate(envelope.payload)
        await known_relations.lock_relations(session, [erased.relation_id], exclusive=True)
        await known_relations.forget(
            session, relation_id=erased.relation_id, version=envelope.subject_version
        )
        touched = await unlink_relation(
            session, relation_id=erased.relation_id, actor=envelope.actor
        )
        log.info(
            "relation erased from moments", relation=str(erased.relation_id), moments=len(touched)
        )
    # Other event types are someone else's business; new ones must not stop this consumer.


def relations_consumer(
    settings: ContactMomentsSettings,
    sessions: async_sessionmaker[AsyncSession],
    producer: AIOKafkaProducer,
) -> EventConsumer:
    return service_consumer(
        settings,
        name=settings.consumer_group,
        topics=CONSUMED_TOPICS,
        sessions=sessions,
        inbox=inbox,
        apply=apply_relation_event,
        producer=producer,
    )
