"""The gateway worker: the activity feed, and dropping cached card parts when events say
they changed (relations, contact moments, list memberships, generated properties)."""

from __future__ import annotations

import uuid

from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from redis.asyncio import Redis
from sqlalchemy import delete, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from relata_common.events import (
    AUTOMATION_TOPIC,
    CONTACTMOMENTS_TOPIC,
    LIST_MEMBERSHIP_TOPIC,
    RELATIONS_TOPIC,
    AutomationEventType,
    Envelope,
)
from relata_common.kafka import EventConsumer
from relata_gateway import activity as activity_feed
from relata_gateway import cache, dashboard, live
from relata_gateway.models import activity, inbox
from relata_gateway.settings import GatewaySettings

CONSUMED_TOPICS = (RELATIONS_TOPIC, CONTACTMOMENTS_TOPIC, LIST_MEMBERSHIP_TOPIC, AUTOMATION_TOPIC)


def applier(redis: Redis, channel: str = live.CHANNEL):
    async def apply(session: AsyncSession, envelope: Envelope) -> None:
        if envelope.type.startswith("relation."):
            await _relation_changed(session, redis, envelope)
        elif envelope.type.startswith("contactmoment."):
            state = envelope.payload.get("state", {})
            linked = {
                *state.get("relation_ids", []),
                *envelope.payload.get("previous_relation_ids", []),
            }
            for relation_id in linked:
                await cache.invalidate(redis, relation_id, "contact_moments")
        elif envelope.type.startswith("membership."):
            await cache.invalidate(redis, envelope.payload["relation_id"], "lists")
        elif envelope.type == AutomationEventType.PROPERTY_CHANGED:
            await cache.invalidate(redis, envelope.payload["relation_id"], "properties")
        live.publish_after_commit(session, redis, channel, envelope)

    return apply


async def _relation_changed(session: AsyncSession, redis: Redis, envelope: Envelope) -> None:
    relation_id = uuid.UUID(envelope.subject_id)
    activity_feed.bump_after_commit(session, redis)  # every branch below changes the feed
    if envelope.type == "relation.erased":
        # Privacy law: nothing of an erased relation stays (feed rows, cached parts, recents).
        await session.execute(delete(activity).where(activity.c.relation_id == relation_id))
        await cache.invalidate(redis, relation_id)
        await dashboard.forget_relation(redis, str(relation_id))
        return
    await cache.invalidate(redis, relation_id, "relation")
    survivor = envelope.payload.get("survivor_id")
    if survivor:
        await cache.invalidate(redis, relation_id)
        await cache.invalidate(redis, survivor)
        await session.execute(  # the survivor now carries the merged relation's history
            update(activity)
            .where(activity.c.relation_id == relation_id)
            .values(relation_id=uuid.UUID(str(survivor)))
        )
    await session.execute(
        insert(activity)
        .values(
            event_id=envelope.event_id,
            relation_id=relation_id,
            version=envelope.subject_version,
            kind=envelope.type,
            actor_kind=envelope.actor.kind.value,
            actor_id=envelope.actor.id,
            changed_fields=envelope.payload.get("changed_fields", []),
            at=envelope.occurred_at,
        )
        .on_conflict_do_nothing()
    )


def register(settings: GatewaySettings):
    async def build(broker: KafkaBroker, app: FastAPI) -> None:
        redis = Redis.from_url(settings.redis_url)
        app.state.redis = redis
        EventConsumer(
            name="gateway",
            group=f"gateway{settings.consumer_group_suffix}",
            topics=CONSUMED_TOPICS,
            sessions=app.state.sessions,
            inbox=inbox,
            apply=applier(redis, live.channel(settings)),
            producer=app.state.producer,
            retry_attempts=settings.consumer_retry_attempts,
            max_records=settings.consumer_max_records,
        ).register(broker, description="Activity feed and card cache invalidation.")

    return build
