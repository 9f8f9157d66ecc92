"""The gateway worker: the activity feed, and dropping cached card parts when events say
they changed (relations, contact moments, list memberships, generated properties, donations
and event registrations)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import delete, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from relata_common.events import (
    AUTOMATION_TOPIC,
    CONTACTMOMENTS_TOPIC,
    DONATIONS_TOPIC,
    LIST_MEMBERSHIP_TOPIC,
    REGISTRATIONS_TOPIC,
    RELATIONS_TOPIC,
    AutomationEventType,
    Envelope,
    RelationEventType,
)
from relata_common.kafka import service_consumer
from relata_gateway import activity as activity_feed
from relata_gateway import cache, dashboard, live
from relata_gateway.models import activity, inbox
from relata_gateway.settings import GatewaySettings

CONSUMED_TOPICS = (
    RELATIONS_TOPIC,
    CONTACTMOMENTS_TOPIC,
    LIST_MEMBERSHIP_TOPIC,
    AUTOMATION_TOPIC,
    DONATIONS_TOPIC,
    REGISTRATIONS_TOPIC,
)
FACT_PARTS = {
    "donation.received": "facts",
    "registration.created": "facts",
    "registration.cancelled": "facts",
}
"""Facts of other platform modules and the card part each changes."""


def batch_applier(redis: Redis, channel: str = live.CHANNEL, settle_seconds: float = 2.0):
    """Applies a batch of events in order: the feed rows of ordinary changes are inserted in one
    statement and the cached card parts they touch dropped in one Redis round trip; merges and
    erasures (rare) are applied where they stand, after the rows before them.

    Donation and registration parts are read from the lists read model, which applies the same
    events in its own consumer group, maybe after this one: they are dropped at once and again
    ``settle_seconds`` later, so a card read in between keeps the old part only that long."""

    async def apply(session: AsyncSession, envelopes: list[Envelope]) -> None:
        batch = _Batch(session, redis, settle_seconds)
        for envelope in envelopes:
            if envelope.type in (RelationEventType.MERGED, RelationEventType.ERASED):
                await batch.flush()
                await _merged_or_erased(session, redis, envelope)
            elif envelope.type.startswith("relation."):
                batch.rows.append(_activity_row(envelope))
                batch.drop(envelope.subject_id, "relation")
            elif envelope.type.startswith("contactmoment."):
                state = envelope.payload.get("state", {})
                for relation_id in {
                    *state.get("relation_ids", []),
                    *envelope.payload.get("previous_relation_ids", []),
                }:
                    batch.drop(relation_id, "contact_moments")
            elif envelope.type.startswith("membership."):
                batch.drop(envelope.payload["relation_id"], "lists")
            elif envelope.type == AutomationEventType.PROPERTY_CHANGED:
                batch.drop(envelope.payload["relation_id"], "properties")
            elif envelope.type in FACT_PARTS:
                batch.drop_settled(envelope.payload["relation_id"], FACT_PARTS[envelope.type])
            live.publish_after_commit(session, redis, channel, envelope)
        await batch.flush()

    return apply


class _Batch:
    """Feed rows and cache invalidations gathered from consecutive events."""

    def __init__(self, session: AsyncSession, redis: Redis, settle_seconds: float = 0.0) -> None:
        self.session, self.redis = session, redis
        self.settle_seconds = settle_seconds
        self.rows: list[dict[str, Any]] = []
        self.parts: dict[str, set[str]] = {}
        self.settling: dict[str, set[str]] = {}

    def drop(self, relation_id: uuid.UUID | str, part: str) -> None:
        self.parts.setdefault(str(relation_id), set()).add(part)

    def drop_settled(self, relation_id: uuid.UUID | str, part: str) -> None:
        """Drop the part now and once more when the read model behind it has settled."""
        self.drop(relation_id, part)
        self.settling.setdefault(str(relation_id), set()).add(part)

    async def flush(self) -> None:
        if self.rows:
            activity_feed.bump_after_commit(self.session, self.redis)
            await self.session.execute(insert(activity).on_conflict_do_nothing(), self.rows)
            self.rows = []
        if self.parts:
            await cache.invalidate_many(self.redis, self.parts)
            self.parts = {}
        if self.settling:
            _drop_later(self.redis, self.settling, self.settle_seconds)
            self.settling = {}


_settling: set[asyncio.Task[None]] = set()
"""Delayed drops under way (held so that they are not collected before they ran)."""


def _drop_later(redis: Redis, parts: dict[str, set[str]], seconds: float) -> None:
    async def drop() -> None:
        await asyncio.sleep(seconds)
        with contextlib.suppress(RedisError):  # missed: the part expires after the card TTL
            await cache.invalidate_many(redis, parts)

    task = asyncio.get_running_loop().create_task(drop())
    _settling.add(task)
    task.add_done_callback(_settling.discard)


def _activity_row(envelope: Envelope) -> dict[str, Any]:
    return {
        "event_id": envelope.event_id,
        "relation_id": uuid.UUID(envelope.subject_id),
        "version": envelope.subject_version,
        "kind": envelope.type,
        "actor_kind": envelope.actor.kind.value,
        "actor_id": envelope.actor.id,
        "changed_fields": envelope.payload.get("changed_fields", []),
        "at": envelope.occurred_at,
    }


async def _merged_or_erased(session: AsyncSession, redis: Redis, envelope: Envelope) -> None:
    relation_id = uuid.UUID(envelope.subject_id)
    activity_feed.bump_after_commit(session, redis)
    if envelope.type == RelationEventType.ERASED:
        await cache.forget(redis, relation_id)
        # Privacy law: nothing of an erased relation stays (feed rows, cached parts, recents).
        await session.execute(delete(activity).where(activity.c.relation_id == relation_id))
        await dashboard.forget_relation(redis, str(relation_id))
        return
    await cache.invalidate(redis, relation_id)
    survivor = uuid.UUID(str(envelope.payload["survivor_id"]))
    await cache.invalidate(redis, survivor)
    await session.execute(  # the survivor now carries the merged relation's history
        update(activity).where(activity.c.relation_id == relation_id).values(relation_id=survivor)
    )
    await session.execute(insert(activity).on_conflict_do_nothing(), [_activity_row(envelope)])


def register(settings: GatewaySettings):
    async def build(broker: KafkaBroker, app: FastAPI) -> None:
        redis = Redis.from_url(settings.redis_url)
        app.state.redis = redis
        service_consumer(
            settings,
            name="gateway",
            topics=CONSUMED_TOPICS,
            sessions=app.state.sessions,
            inbox=inbox,
            apply_batch=batch_applier(redis, live.channel(settings), settings.fact_settle_seconds),
            producer=app.state.producer,
        ).register(broker, description="Activity feed and card cache invalidation.")

    return build
