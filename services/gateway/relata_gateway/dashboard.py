"""The dashboard's "viewed last": the relations and lists each user opened, in Redis. (What
others changed recently is the activity feed, ``activity``.)"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict
from redis.asyncio import Redis

from relata_common.errors import ServiceUnavailable
from relata_gateway.cards import CardContext, lists_of_many, relation_states
from relata_gateway.directory import Snapshot
from relata_gateway.forms import display_name
from relata_gateway.security import User


class RecentItem(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "relation",
                    "id": "0b6f3c3e-8f7e-4d47-9a43-3c1f0f8f0a11",
                    "view_id": "5d0c2f4e-2a57-4c1e-8d0a-6f3a2b1c9e77",
                    "label": "Sanne Bakker",
                    "at": "2026-12-07T09:15:00Z",
                }
            ]
        }
    )

    kind: str
    id: uuid.UUID
    view_id: uuid.UUID
    label: str
    at: datetime


def _recent_key(user: User) -> str:
    return f"recent:{user.id}"


# Drop the item's earlier entry, push it on top and keep the newest few: one round trip.
_REMEMBER = """
for _, raw in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  local old = cjson.decode(raw)
  if old['kind'] == ARGV[1] and old['id'] == ARGV[2] then
    redis.call('LREM', KEYS[1], 0, raw)
  end
end
redis.call('LPUSH', KEYS[1], ARGV[3])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[4]) - 1)
"""


async def remember(redis: Redis, user: User, item: RecentItem, keep: int) -> None:
    """Put an item at the top of the user's recent items (once), keeping the newest few."""
    entry = orjson.dumps(item.model_dump(mode="json"))
    await redis.eval(_REMEMBER, 1, _recent_key(user), item.kind, str(item.id), entry, keep)


async def forget_relation(redis: Redis, relation_id: str) -> None:
    """Drop an (erased) relation from every user's recent items."""
    async for key in redis.scan_iter(match="recent:*", count=500):
        for raw in await redis.lrange(key, 0, -1):
            old = orjson.loads(raw)
            if old["kind"] == "relation" and old["id"] == relation_id:
                # The entry as stored (bytes); the client's types ask for str only.
                await redis.lrem(key, 0, raw)  # type: ignore[arg-type]


async def recent(ctx: CardContext, snapshot: Snapshot, user: User) -> list[RecentItem]:
    """Recent items the user may still see: relations their view still shows (named as the
    view's form names them now) and lists still under a view they have."""
    by_id = {view.id: view for view in snapshot.views_of(user)}
    items = [
        RecentItem.model_validate(orjson.loads(raw))
        for raw in await ctx.redis.lrange(_recent_key(user), 0, -1)
    ]
    items = [item for item in items if item.view_id in by_id]
    relation_ids = [item.id for item in items if item.kind == "relation"]
    memberships, states = await _lists_and_states(ctx, relation_ids)
    lists_under = {v: {ref.list_id: ref.name for ref in snapshot.lists_of(v)} for v in by_id}
    out = []
    for item in items:
        view = by_id[item.view_id]
        if item.kind == "list":
            if item.id in lists_under.get(view.id, {}):
                out.append(item.model_copy(update={"label": lists_under[view.id][item.id]}))
            continue
        state = states.get(str(item.id))
        in_view = str(view.base_list_id) in memberships.get(str(item.id), [])
        if state is None or not in_view or state.get("status") != "active":
            continue
        label = display_name(view.form, state.get("fields", {}), state.get("relation_number"))
        out.append(item.model_copy(update={"label": label}))
    return out


async def _lists_and_states(
    ctx: CardContext, relation_ids: list[uuid.UUID]
) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """Memberships and states of relations; nothing of them when a service does not answer."""
    try:
        memberships, states = await asyncio.gather(
            lists_of_many(ctx, relation_ids), relation_states(ctx, relation_ids)
        )
    except ServiceUnavailable:
        return {}, {}
    return memberships, states


def now() -> datetime:
    return datetime.now(UTC)
