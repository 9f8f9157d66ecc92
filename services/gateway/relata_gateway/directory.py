"""Views, their lists and who may use them, kept in each API process.

Nearly every request asks "which views may this user use?". Views and grants change rarely (a
functional administrator edits them), so each API process keeps all of them in memory and
reloads them when the generation counter in Redis moves. Every change to views, view lists or
grants bumps the counter after its transaction commits (``changing_views``). A reader that
loaded a snapshot just before such a commit stored it under the old generation, so the bump
makes the next request reload. ``MAX_AGE`` bounds the damage if a bump itself is lost.

Writes (editing through a card, saving a list) still check their right in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relata_common.db import transaction
from relata_common.errors import NotFound
from relata_gateway.models import grants, role_grants, roles, view_lists, views
from relata_gateway.rights import EVERY_RIGHT
from relata_gateway.security import User
from relata_gateway.views import ListRef, View, stored_form

GENERATION_KEY = "gateway:views:generation"
MAX_AGE = 30.0
"""Seconds after which a snapshot is reloaded even if no bump was seen."""


@dataclass(frozen=True)
class Snapshot:
    """Every view (by name), the lists under each, each user's and each role's grants
    (view → can edit), and each role's rights."""

    views: list[View]
    lists: dict[uuid.UUID, list[ListRef]]
    grants: dict[uuid.UUID, dict[uuid.UUID, bool]]
    generation: str
    role_grants: dict[str, dict[uuid.UUID, bool]] = field(default_factory=dict)
    roles: dict[str, frozenset[str]] = field(default_factory=dict)
    loaded_at: float = field(default_factory=time.monotonic)

    def views_of(self, user: User) -> list[View]:
        """The views this user may work in, by name (administrators have every view); a
        user's own grant and their role's add up (edit if either allows it)."""
        if user.is_admin:
            return [_with_edit(v, True) for v in self.views]
        granted = merged_grants(self.grants.get(user.id, {}), self.role_grants.get(user.role, {}))
        return [_with_edit(v, granted[v.id]) for v in self.views if v.id in granted]

    def rights_of(self, user: User) -> frozenset[str]:
        """The rights of the user's role (administrators have every right)."""
        if user.is_admin:
            return EVERY_RIGHT
        return self.roles.get(user.role, frozenset())

    def lists_of(self, view_id: uuid.UUID) -> list[ListRef]:
        """The lists under a view, 'All relations' first."""
        return self.lists.get(view_id, [])


def merged_grants(*grants: dict[uuid.UUID, bool]) -> dict[uuid.UUID, bool]:
    merged: dict[uuid.UUID, bool] = {}
    for granted in grants:
        for view_id, can_edit in granted.items():
            merged[view_id] = merged.get(view_id, False) or can_edit
    return merged


def _with_edit(view: View, can_edit: bool) -> View:
    return view if view.can_edit == can_edit else dataclasses.replace(view, can_edit=can_edit)


def pick(views_of_user: list[View], view_id: uuid.UUID) -> View:
    """One of the user's views; 404 when not granted (its existence is not told)."""
    for view in views_of_user:
        if view.id == view_id:
            return view
    raise NotFound(f"view {view_id} does not exist")


async def _load(session: AsyncSession, generation: str) -> Snapshot:
    all_views = [
        View(row.id, row.name, row.base_list_id, stored_form(row.form), False)
        for row in await session.execute(select(views).order_by(views.c.name))
    ]
    lists: dict[uuid.UUID, list[ListRef]] = {}
    for row in await session.execute(
        select(view_lists).order_by(view_lists.c.position, view_lists.c.name)
    ):
        lists.setdefault(row.view_id, []).append(ListRef(list_id=row.list_id, name=row.name))
    granted: dict[uuid.UUID, dict[uuid.UUID, bool]] = {}
    for row in await session.execute(select(grants)):
        granted.setdefault(row.user_id, {})[row.view_id] = row.can_edit
    by_role: dict[str, dict[uuid.UUID, bool]] = {}
    for row in await session.execute(select(role_grants)):
        by_role.setdefault(row.role, {})[row.view_id] = row.can_edit
    rights = {row.name: frozenset(row.rights) for row in await session.execute(select(roles))}
    return Snapshot(all_views, lists, granted, generation, by_role, rights)


class Directory:
    """The process's snapshot of views and grants, reloaded when the generation moves."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], redis: Redis) -> None:
        self._sessions = sessions
        self._redis = redis
        self._snapshot: Snapshot | None = None
        self._reloading = asyncio.Lock()

    async def generation(self) -> str:
        raw = await self._redis.get(GENERATION_KEY)
        return as_generation(raw)

    async def snapshot(self, generation: str | None = None) -> Snapshot:
        """The snapshot of ``generation`` (read from Redis when not given)."""
        if generation is None:
            generation = await self.generation()
        current = self._snapshot
        if current is not None and _fresh(current, generation):
            return current
        async with self._reloading:  # one reload at a time, not one per waiting request
            current = self._snapshot
            if current is None or not _fresh(current, generation):
                async with transaction(self._sessions) as session:
                    current = await _load(session, generation)
                self._snapshot = current
        return current


def _fresh(snapshot: Snapshot, generation: str) -> bool:
    return snapshot.generation == generation and time.monotonic() - snapshot.loaded_at < MAX_AGE


def as_generation(raw: bytes | str | None) -> str:
    if raw is None:
        return "0"
    return raw.decode() if isinstance(raw, bytes) else raw


@contextlib.asynccontextmanager
async def changing_views(
    sessions: async_sessionmaker[AsyncSession], redis: Redis
) -> AsyncIterator[AsyncSession]:
    """A transaction that changes views, view lists, grants or roles; every process reloads
    them once it has committed."""
    async with transaction(sessions) as session:
        yield session
    await redis.incr(GENERATION_KEY)
