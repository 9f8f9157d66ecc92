"""The dashboard: what this user viewed last (Redis), and what others changed recently."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel
from redis.asyncio import Redis
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from relata_gateway.cards import CardContext, visible
from relata_gateway.clients import ServiceUnavailable
from relata_gateway.models import activity
from relata_gateway.security import User
from relata_gateway.views import View


class RecentItem(BaseModel):
    kind: str
    id: uuid.UUID
    view_id: uuid.UUID
    label: str
    at: datetime


def _recent_key(user: User) -> str:
    return f"recent:{user.id}"


async def remember(redis: Redis, user: User, item: RecentItem, keep: int) -> None:
    """Put an item at the top of the user's recent items (once), keeping the newest few."""
    key = _recent_key(user)
    entries = await redis.lrange(key, 0, keep)
    for raw in entries:
        old = orjson.loads(raw)
        if old["kind"] == item.kind and old["id"] == str(item.id):
            await redis.lrem(key, 0, raw)
    await redis.lpush(key, orjson.dumps(item.model_dump(mode="json")))
    await redis.ltrim(key, 0, keep - 1)


async def recent(redis: Redis, user: User, views: list[View]) -> list[RecentItem]:
    """Recent items still in a view the user has (a revoked view drops its items)."""
    allowed = {view.id for view in views}
    items = [
        RecentItem.model_validate(orjson.loads(raw))
        for raw in await redis.lrange(_recent_key(user), 0, -1)
    ]
    return [item for item in items if item.view_id in allowed]


def now() -> datetime:
    return datetime.now(UTC)


class ActivityItem(BaseModel):
    relation_id: uuid.UUID
    kind: str
    actor_kind: str
    actor_id: str | None
    changed_fields: list[str]
    at: datetime


async def recently_edited_by_others(
    session: AsyncSession, ctx: CardContext, user: User, view: View, limit: int
) -> list[ActivityItem]:
    """Changes by colleagues and by relations themselves, newest first, never the user's own,
    only for relations in the view and only naming fields its form shows."""
    others = or_(
        and_(activity.c.actor_kind == "user", activity.c.actor_id != str(user.id)),
        activity.c.actor_kind == "relation",
    )
    found: list[ActivityItem] = []
    before: int | None = None
    for _ in range(10):  # scan at most 10 pages of 100 for a page of visible changes
        statement = select(activity).where(others).order_by(activity.c.id.desc()).limit(100)
        if before is not None:
            statement = statement.where(activity.c.id < before)
        rows = (await session.execute(statement)).mappings().all()
        if not rows:
            break
        before = rows[-1]["id"]
        for row in rows:
            shown = [f for f in row["changed_fields"] if _shown(view, f)]
            if not shown or not await _visible(ctx, view, row["relation_id"]):
                continue
            found.append(ActivityItem(**{**_activity_fields(row), "changed_fields": shown}))
            if len(found) >= limit:
                return found
    return found


def _shown(view: View, field: str) -> bool:
    return view.form.shows(field)


async def _visible(ctx: CardContext, view: View, relation_id: uuid.UUID) -> bool:
    try:
        return await visible(ctx, view, relation_id)
    except ServiceUnavailable:
        return False  # unknown visibility: leave it out


def _activity_fields(row: Any) -> dict[str, Any]:
    return {k: row[k] for k in ("relation_id", "kind", "actor_kind", "actor_id", "at")}
