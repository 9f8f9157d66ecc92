"""Recently edited by others: a view's activity feed.

The gateway worker writes one activity row per relation change (``consumers``). Every dashboard
asks for the newest rows, so each API process keeps the newest ``WINDOW`` of them in memory and
reloads them when the worker says the table changed: it bumps a generation counter in Redis
after each commit (``bump_after_commit``), and a process looks at that counter at most every
``CHECK_EVERY`` seconds. A feed is then filtered in memory; only a view whose changes are rare
among the newest (or a long page) reads further back in the table.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import CursorResult, RowMapping, and_, delete, event, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relata_common.logging import get_logger
from relata_gateway.cards import CardContext, visible_ids
from relata_gateway.models import activity
from relata_gateway.security import User
from relata_gateway.views import View

log = get_logger(__name__)

GENERATION_KEY = "gateway:activity:generation"
WINDOW = 500
"""Newest activity rows each API process keeps."""
CHECK_EVERY = 0.1
"""Seconds between looks at the generation counter: how far behind the worker a feed may be."""
MAX_AGE = 10.0
"""Seconds after which the window is reloaded even if no bump was seen (a lost bump)."""
PAGE = 100
"""Rows filtered at a time, after a first batch of twice what is asked for."""

# Newest first by when the change happened, not when its event arrived here: a consumer
# catching up (or replaying) inserts old changes after new ones.
NEWEST_FIRST = (activity.c.at.desc(), activity.c.id.desc())

Row = RowMapping
"""A row of the feed table as the database answers it."""


class ActivityItem(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "relation_id": "0b6f3c3e-8f7e-4d47-9a43-3c1f0f8f0a11",
                    "kind": "relation.updated",
                    "actor_kind": "user",
                    "actor_id": "9a7d1c2b-3e4f-4a5b-8c6d-7e8f9a0b1c2d",
                    "changed_fields": ["addresses"],
                    "at": "2026-12-07T09:15:00Z",
                }
            ]
        }
    )

    relation_id: uuid.UUID
    kind: str
    actor_kind: str
    actor_id: str | None
    changed_fields: list[str]
    at: datetime


@dataclass(frozen=True)
class _Window:
    rows: Sequence[Row]
    """Newest first."""
    generation: bytes | str | None
    """The counter as Redis answered it (bytes: the client does not decode)."""
    loaded_at: float
    checked_at: float

    @property
    def everything(self) -> bool:
        """Whether the window holds every row there is (nothing older to read)."""
        return len(self.rows) < WINDOW


class NewestActivity:
    """This process's window on the newest activity rows."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], redis: Redis) -> None:
        self._sessions = sessions
        self._redis = redis
        self._window: _Window | None = None
        self._checking = asyncio.Lock()

    async def window(self) -> _Window:
        window = self._window
        if window is not None and time.monotonic() - window.checked_at < CHECK_EVERY:
            return window
        async with self._checking:  # one look (and load) at a time, not one per request
            window = self._window
            now = time.monotonic()
            if window is None or now - window.checked_at >= CHECK_EVERY:
                window = await self._refreshed(window, now)
                self._window = window
        return window

    async def _refreshed(self, window: _Window | None, now: float) -> _Window:
        generation = await self._redis.get(GENERATION_KEY)
        unchanged = window is not None and window.generation == generation
        if window is not None and unchanged and now - window.loaded_at < MAX_AGE:
            return _Window(window.rows, generation, window.loaded_at, now)
        # Read the counter before the rows: a bump committed in between makes the next look
        # reload again, never miss the change.
        async with self._sessions() as session:
            statement = select(activity).order_by(*NEWEST_FIRST).limit(WINDOW)
            rows = (await session.execute(statement)).mappings().all()
        return _Window(rows, generation, now, now)


def bump_after_commit(session: AsyncSession, redis: Redis) -> None:
    """Tell the API processes the activity table changed, once this transaction commits."""
    if session.info.get("activity_bump"):
        return
    session.info["activity_bump"] = True

    def bump(_: Any) -> None:
        session.info.pop("activity_bump", None)
        task = asyncio.get_running_loop().create_task(_bump(redis))
        _bumping.add(task)
        task.add_done_callback(_bumping.discard)

    def drop(_: Any) -> None:
        session.info.pop("activity_bump", None)

    event.listen(session.sync_session, "after_commit", bump, once=True)
    event.listen(session.sync_session, "after_rollback", drop, once=True)


_bumping: set[asyncio.Task] = set()


async def _bump(redis: Redis) -> None:
    try:
        await redis.incr(GENERATION_KEY)
    except RedisError as error:  # the API processes reload within MAX_AGE anyway
        log.warning("activity generation not bumped", error=repr(error))


async def recently_edited_by_others(
    newest: NewestActivity,
    sessions: async_sessionmaker[AsyncSession],
    ctx: CardContext,
    user: User,
    view: View,
    limit: int,
) -> list[ActivityItem]:
    """Changes by colleagues and by relations themselves, newest first, never the user's own,
    only for relations in the view and only naming fields its form shows."""
    found: list[ActivityItem] = []
    window = await newest.window()
    for chunk in _chunks(window.rows, first=2 * limit):
        if await _collect(ctx, user, view, chunk, limit, found):
            return found
    if window.rows and not window.everything:
        await _read_older(sessions, ctx, user, view, limit, found, _key(window.rows[-1]))
    return found


def _chunks(rows: Sequence[Row], first: int) -> Iterator[Sequence[Row]]:
    """The rows a few at a time: most changes are usually in the view, so start small."""
    start, size = 0, first
    while start < len(rows):
        yield rows[start : start + size]
        start, size = start + size, PAGE


async def _collect(
    ctx: CardContext, user: User, view: View, rows: Sequence[Row], limit: int, found: list
) -> bool:
    """Add the rows the user may see to ``found``; True once it holds ``limit`` items."""
    me = str(user.id)
    candidates = [
        (row, shown)
        for row in rows
        if row["actor_kind"] == "relation"
        or (row["actor_kind"] == "user" and row["actor_id"] != me)
        if (shown := [f for f in row["changed_fields"] if view.form.shows(f)])
    ]
    if not candidates:
        return False
    in_view = await visible_ids(ctx, view, list({row["relation_id"] for row, _ in candidates}))
    for row, shown in candidates:
        if str(row["relation_id"]) in in_view:
            found.append(ActivityItem(**{**_activity_fields(row), "changed_fields": shown}))
            if len(found) >= limit:
                return True
    return False


async def _read_older(
    sessions: async_sessionmaker[AsyncSession],
    ctx: CardContext,
    user: User,
    view: View,
    limit: int,
    found: list[ActivityItem],
    before: tuple[datetime, int],
) -> None:
    """Read on past the window, a page at a time (at most 10 pages)."""
    others = or_(
        and_(activity.c.actor_kind == "user", activity.c.actor_id != str(user.id)),
        activity.c.actor_kind == "relation",
    )
    for _ in range(10):
        statement = (
            select(activity)
            .where(others, tuple_(activity.c.at, activity.c.id) < before)
            .order_by(*NEWEST_FIRST)
            .limit(PAGE)
        )
        # A connection only for the query: none is held while Redis says what the view shows.
        async with sessions() as session:
            rows = (await session.execute(statement)).mappings().all()
        if not rows or await _collect(ctx, user, view, rows, limit, found):
            return
        if len(rows) < PAGE:
            return  # the oldest change is behind us
        before = _key(rows[-1])


def _key(row: Row) -> tuple[datetime, int]:
    return row["at"], row["id"]


def _activity_fields(row: Row) -> dict[str, Any]:
    return {k: row[k] for k in ("relation_id", "kind", "actor_kind", "actor_id", "at")}


# --- retention ----------------------------------------------------------------------------------


async def prune(
    sessions: async_sessionmaker[AsyncSession], older_than: timedelta, batch: int = 5_000
) -> int:
    """Delete activity rows older than ``older_than``, a batch per transaction so the worker's
    inserts never wait long on them; returns how many went. The feed is of recent changes: who
    changed what and when stays in each relation's history in the relations service."""
    cutoff = datetime.now(UTC) - older_than
    oldest = select(activity.c.id).where(activity.c.at < cutoff).limit(batch)
    deleted = 0
    while True:
        async with sessions.begin() as session:
            result = await session.execute(delete(activity).where(activity.c.id.in_(oldest)))
        assert isinstance(result, CursorResult)  # a DELETE's result, which counts its rows
        deleted += result.rowcount
        if result.rowcount < batch:
            return deleted


def retention(days: int, every: float) -> Callable[[FastAPI], Awaitable[None]]:
    """The worker task that prunes the feed of changes older than ``days``, every ``every``
    seconds."""

    async def run(app: FastAPI) -> None:
        while True:
            deleted = await prune(app.state.sessions, timedelta(days=days))
            if deleted:
                log.info("activity pruned", rows=deleted, older_than_days=days)
            await asyncio.sleep(every)

    return run
