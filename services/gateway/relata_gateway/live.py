"""Live updates: server-sent events per view, so an open dashboard, list or card updates by
itself when a change is published.

The gateway worker publishes what it applied (relation changes, list membership changes) on
one Redis pub/sub channel once its transaction has committed; presence changes are published
there too. Each ``GET /views/{view_id}/live`` stream subscribes to that channel and passes on
only what the view may see: changes of relations the view shows, naming only fields its form
shows, and membership changes of the view's own lists.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncGenerator
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from relata_common.events import Envelope
from relata_common.logging import get_logger
from relata_common.settings import CommonSettings
from relata_gateway import views
from relata_gateway.cards import CardContext, visible_ids
from relata_gateway.security import User

CHANNEL = "live"
KEEPALIVE_SECONDS = 15.0
log = get_logger(__name__)
_publishing: set[asyncio.Task[Any]] = set()  # strong references until each publish is done


def channel(settings: CommonSettings) -> str:
    """The pub/sub channel of one installation (pub/sub ignores Redis database numbers, so
    installations sharing a Redis server are told apart by their database name)."""
    return f"{CHANNEL}:{settings.database_name}"


async def publish(redis: Redis, name: str, message: dict[str, Any]) -> None:
    await redis.publish(name, orjson.dumps(message))


def message_of(envelope: Envelope) -> dict[str, Any] | None:
    """What a live stream tells of an applied event (None: nothing)."""
    if envelope.type.startswith("relation.") and envelope.type != "relation.erased":
        return {
            "type": "relation",
            "relation_id": envelope.subject_id,
            "changed_fields": envelope.payload.get("changed_fields", []),
            "actor_kind": envelope.actor.kind.value,
            "actor_id": envelope.actor.id,
        }
    if envelope.type.startswith("membership."):
        return {
            "type": "membership",
            "list_id": str(envelope.payload["list_id"]),
            "relation_id": str(envelope.payload["relation_id"]),
            "entered": envelope.type == "membership.entered",
        }
    if envelope.type.startswith("contactmoment."):
        state = envelope.payload.get("state", {})
        return {"type": "contact_moments", "relation_ids": state.get("relation_ids", [])}
    return None


def publish_after_commit(
    session: AsyncSession, redis: Redis, name: str, envelope: Envelope
) -> None:
    """Publish the event's message once the session's transaction has committed, so a client
    that reloads on it reads the committed change (the activity feed row, for one)."""
    message = message_of(envelope)
    if message is None:
        return
    pending: list[dict[str, Any]] = session.info.setdefault("live_pending", [])
    if not pending:
        sync_session = session.sync_session

        def flush(_: Any) -> None:
            messages = list(session.info.pop("live_pending", []))
            task = asyncio.get_running_loop().create_task(_publish_all(redis, name, messages))
            _publishing.add(task)
            task.add_done_callback(_publishing.discard)

        def drop(_: Any) -> None:
            session.info.pop("live_pending", None)

        event.listen(sync_session, "after_commit", flush, once=True)
        event.listen(sync_session, "after_rollback", drop, once=True)
    pending.append(message)


async def _publish_all(redis: Redis, name: str, messages: list[dict[str, Any]]) -> None:
    if not messages:
        return
    try:
        async with redis.pipeline(transaction=False) as pipe:
            for message in messages:
                pipe.publish(name, orjson.dumps(message))
            await pipe.execute()
    except RedisError as error:  # the change is committed; only the live nudge is lost
        log.warning("live updates not published", error=repr(error), count=len(messages))


class ViewFilter:
    """Decides what of a published message a user in a view may be told."""

    def __init__(self, ctx: CardContext, user: User, view: views.View, lists: set[str]) -> None:
        self.ctx, self.user, self.view, self.lists = ctx, user, view, lists

    async def shown(self, message: dict[str, Any]) -> dict[str, Any] | None:
        kind = message.get("type")
        if kind == "membership":
            if message["list_id"] not in self.lists:
                return None
            return message
        if kind == "relation":
            fields = [f for f in message["changed_fields"] if self.view.form.shows(f)]
            if message["changed_fields"] and not fields:
                return None
            if not await self._visible(message["relation_id"]):
                return None
            return {
                "type": "relation",
                "relation_id": message["relation_id"],
                "changed_fields": fields,
                "by_me": message.get("actor_kind") == "user"
                and message.get("actor_id") == str(self.user.id),
            }
        if kind == "contact_moments":
            if not self.view.form.shows("contact_moments"):
                return None
            ids = [uuid.UUID(r) for r in message["relation_ids"]]
            shown = await visible_ids(self.ctx, self.view, ids) if ids else set()
            return {"type": "contact_moments", "relation_ids": sorted(shown)} if shown else None
        if kind == "presence":
            if message.get("user_id") == str(self.user.id):
                return None
            if not await self._visible(message["relation_id"]):
                return None
            return {"type": "presence", "relation_id": message["relation_id"]}
        return None

    async def _visible(self, relation_id: str) -> bool:
        return bool(await visible_ids(self.ctx, self.view, [uuid.UUID(relation_id)]))


def _sse(kind: str, data: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


async def stream(
    redis: Redis, name: str, allowed: ViewFilter, until: float
) -> AsyncGenerator[bytes, None]:
    """Server-sent events of what ``allowed`` passes, from the channel ``name``, until
    ``until`` (a monotonic time), with a keep-alive comment when nothing passes for a while."""
    pubsub = redis.pubsub()
    await pubsub.subscribe(name)
    try:
        yield _sse("ready", {})
        last_sent = time.monotonic()
        while time.monotonic() < until:
            raw = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if raw is not None and raw.get("type") == "message":
                shown = await allowed.shown(orjson.loads(raw["data"]))
                if shown is not None:
                    yield _sse(shown["type"], shown)
                    last_sent = time.monotonic()
            if time.monotonic() - last_sent >= KEEPALIVE_SECONDS:
                yield b": keepalive\n\n"
                last_sent = time.monotonic()
    finally:
        await pubsub.unsubscribe(name)
        await pubsub.aclose()
