"""Selections: create (frozen at once), read, rename, delete, and change members by hand.

Hand-made changes are exceptions to the source that later refreshes respect: a relation added by
hand stays in whatever the source says, and one removed by hand stays out (an *exclusion*)
until it is added back by hand.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import RowMapping, Uuid, bindparam, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from relata_common.errors import Conflict, InvalidInput, NotFound
from relata_common.events import (
    Actor,
    SelectionChangedPayload,
    SelectionCreatedPayload,
    SelectionDeletedPayload,
    SelectionEventType,
    SelectionSource,
)
from relata_common.versions import check_version
from relata_selections import publishing
from relata_selections.freezing import RelationIds, freeze_members
from relata_selections.models import selection_exclusions, selection_members, selections

IDS = bindparam("ids", type_=ARRAY(Uuid))
LOCAL_ZONE = ZoneInfo("Europe/Amsterdam")
"""Where the organisation's days and times of day are counted: a daily refresh "at 06:30"
means half past six there, summer and winter."""


def local_now() -> datetime:
    return datetime.now(LOCAL_ZONE)


def today() -> date:
    """The day daily refreshes count by (in :data:`LOCAL_ZONE`)."""
    return local_now().date()


class SelectionOut(BaseModel):
    selection_id: uuid.UUID
    name: str
    source: SelectionSource
    daily_refresh: bool
    daily_at: time | None = Field(
        default=None, description="local time of day (Europe/Amsterdam) of the daily refresh"
    )
    version: int
    member_count: int
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    refreshed_at: datetime | None


class SelectionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    daily_refresh: bool | None = None
    daily_at: time | None = Field(
        default=None,
        description="refresh daily from this local time on (null: the first round of the day)",
    )


def selection_out(row: RowMapping) -> SelectionOut:
    state = publishing.state_of(row)
    return SelectionOut(
        **state.model_dump(exclude={"source"}),
        source=state.source,
        created_by=row["created_by"],
        daily_at=row["daily_at"],
    )


async def get_row(
    session: AsyncSession, selection_id: uuid.UUID, *, lock: bool = False
) -> RowMapping:
    statement = select(selections).where(selections.c.selection_id == selection_id)
    if lock:
        statement = statement.with_for_update()
    row = (await session.execute(statement)).mappings().first()
    if row is None:
        raise NotFound(f"selection {selection_id} not found", selection_id=str(selection_id))
    return row


async def get_selection(session: AsyncSession, selection_id: uuid.UUID) -> SelectionOut:
    return selection_out(await get_row(session, selection_id))


async def all_selections(session: AsyncSession) -> list[SelectionOut]:
    rows = await session.execute(select(selections).order_by(selections.c.name))
    return [selection_out(row) for row in rows.mappings()]


def _check_version(row: RowMapping, expected: int) -> None:
    check_version(f"selection {row['selection_id']}", row["version"], expected)


async def create_selection(
    session: AsyncSession,
    *,
    name: str,
    source: SelectionSource,
    daily_refresh: bool,
    relation_ids: RelationIds,
    actor: Actor,
    daily_at: time | None = None,
) -> SelectionOut:
    """Create a selection and freeze ``relation_ids`` (distinct) as its members.

    Members of a list or filter are ``source`` members; those of a hand-made selection ``hand``.
    The freeze counts as the day's refresh.
    """
    if daily_refresh and source.kind == "manual":
        raise Conflict("a hand-made selection has no source to refresh from daily")
    selection_id = uuid.uuid4()
    now = datetime.now(UTC)
    row = (
        (
            await session.execute(
                insert(selections)
                .values(
                    selection_id=selection_id,
                    name=name,
                    source_kind=source.kind,
                    list_id=source.list_id,
                    filter=source.filter,
                    daily_refresh=daily_refresh,
                    daily_at=daily_at,
                    version=1,
                    member_count=len(relation_ids),
                    created_by=actor.id,
                    created_at=now,
                    updated_at=now,
                    refreshed_at=None if source.kind == "manual" else now,
                    daily_run_on=today(),
                )
                .returning(selections)
            )
        )
        .mappings()
        .one()
    )
    await freeze_members(
        session,
        selection_id=selection_id,
        relation_ids=relation_ids,
        added_by="hand" if source.kind == "manual" else "source",
    )
    await publishing.announce(
        session,
        event_type=SelectionEventType.CREATED,
        subject_id=str(selection_id),
        version=row["version"],
        payload=SelectionCreatedPayload(state=publishing.state_of(row)),
        actor=actor,
    )
    return selection_out(row)


async def change_selection(
    session: AsyncSession,
    *,
    selection_id: uuid.UUID,
    patch: SelectionPatch,
    expected_version: int,
    actor: Actor,
) -> SelectionOut:
    """Rename it, switch its daily refresh or set its time of day (If-Match)."""
    row = await get_row(session, selection_id, lock=True)
    _check_version(row, expected_version)
    values: dict[str, Any] = {}
    if patch.name is not None and patch.name != row["name"]:
        values["name"] = patch.name
    values |= _daily_changes(row, patch)
    if not values:
        return selection_out(row)
    row = await _bump(session, selection_id, **values)
    await publishing.announce(
        session,
        event_type=SelectionEventType.CHANGED,
        subject_id=str(selection_id),
        version=row["version"],
        payload=SelectionChangedPayload(
            state=publishing.state_of(row), reason="renamed" if "name" in values else "settings"
        ),
        actor=actor,
    )
    return selection_out(row)


def _daily_changes(row: RowMapping, patch: SelectionPatch) -> dict[str, Any]:
    """The daily-refresh columns a patch changes; a time given without ``daily_refresh``
    switches the daily refresh on."""
    values: dict[str, Any] = {}
    daily = patch.daily_refresh
    if "daily_at" in patch.model_fields_set and patch.daily_at != row["daily_at"]:
        values["daily_at"] = patch.daily_at
        if daily is None and patch.daily_at is not None:
            daily = True
    if daily is not None and daily != row["daily_refresh"]:
        if daily and row["source_kind"] == "manual":
            raise Conflict("a hand-made selection has no source to refresh from daily")
        values["daily_refresh"] = daily
    return values


async def _bump(session: AsyncSession, selection_id: uuid.UUID, **values: Any) -> RowMapping:
    statement = (
        update(selections)
        .where(selections.c.selection_id == selection_id)
        .values(version=selections.c.version + 1, updated_at=func.now(), **values)
        .returning(selections)
    )
    return (await session.execute(statement)).mappings().one()


async def delete_selection(
    session: AsyncSession, *, selection_id: uuid.UUID, expected_version: int, actor: Actor
) -> None:
    """Delete it with its members, exclusions and refresh history (If-Match)."""
    row = await get_row(session, selection_id, lock=True)
    _check_version(row, expected_version)
    await session.execute(selections.delete().where(selections.c.selection_id == selection_id))
    await publishing.announce(
        session,
        event_type=SelectionEventType.DELETED,
        subject_id=str(selection_id),
        version=row["version"] + 1,
        payload=SelectionDeletedPayload(selection_id=selection_id, name=row["name"]),
        actor=actor,
    )


async def add_by_hand(
    session: AsyncSession,
    *,
    selection_id: uuid.UUID,
    relation_ids: Sequence[uuid.UUID],
    expected_version: int,
    actor: Actor,
    cap: int,
) -> SelectionOut:
    """Add relations by hand: they stay in on refreshes, and any exclusion of them ends."""
    row = await get_row(session, selection_id, lock=True)
    _check_version(row, expected_version)
    ids = list(dict.fromkeys(relation_ids))
    await session.execute(
        text(
            "DELETE FROM selection_exclusions WHERE selection_id = :s AND relation_id = ANY(:ids)"
        ).bindparams(IDS),
        {"s": selection_id, "ids": ids},
    )
    result = await session.execute(
        text(
            "INSERT INTO selection_members (selection_id, relation_id, added_by)"
            " SELECT :s, unnest(CAST(:ids AS uuid[])), 'hand'"
            " ON CONFLICT (selection_id, relation_id) DO UPDATE SET added_by = 'hand'"
            " RETURNING relation_id, (xmax = 0) AS inserted"
        ).bindparams(IDS),
        {"s": selection_id, "ids": ids},
    )
    added = [r.relation_id for r in result if r.inserted]
    return await _after_hand_change(session, row, added, [], actor, cap)


async def remove_by_hand(
    session: AsyncSession,
    *,
    selection_id: uuid.UUID,
    relation_ids: Sequence[uuid.UUID],
    expected_version: int,
    actor: Actor,
    cap: int,
) -> SelectionOut:
    """Remove relations by hand: they stay out on refreshes until added back by hand."""
    row = await get_row(session, selection_id, lock=True)
    _check_version(row, expected_version)
    ids = list(dict.fromkeys(relation_ids))
    result = await session.execute(
        text(
            "DELETE FROM selection_members WHERE selection_id = :s AND relation_id = ANY(:ids)"
            " RETURNING relation_id"
        ).bindparams(IDS),
        {"s": selection_id, "ids": ids},
    )
    removed: list[uuid.UUID] = list(result.scalars())
    await session.execute(
        text(
            "INSERT INTO selection_exclusions (selection_id, relation_id, excluded_by)"
            " SELECT :s, unnest(CAST(:ids AS uuid[])), :actor ON CONFLICT DO NOTHING"
        ).bindparams(IDS),
        {"s": selection_id, "ids": ids, "actor": actor.id},
    )
    return await _after_hand_change(session, row, [], removed, actor, cap)


async def _after_hand_change(
    session: AsyncSession,
    row: RowMapping,
    added: list[uuid.UUID],
    removed: list[uuid.UUID],
    actor: Actor,
    cap: int,
) -> SelectionOut:
    selection_id = row["selection_id"]
    row = await _bump(
        session,
        selection_id,
        member_count=selections.c.member_count + len(added) - len(removed),
    )
    changes = publishing.capped(
        added, removed, added_count=len(added), removed_count=len(removed), cap=cap
    )
    await publishing.announce(
        session,
        event_type=SelectionEventType.CHANGED,
        subject_id=str(selection_id),
        version=row["version"],
        payload=SelectionChangedPayload(
            state=publishing.state_of(row), reason="hand", changes=changes
        ),
        actor=actor,
    )
    return selection_out(row)


# --- reading members ---------------------------------------------------------------------------


class Member(BaseModel):
    relation_id: uuid.UUID
    added_at: datetime
    added_by: str


class MembersPage(BaseModel):
    member_count: int
    members: list[Member]
    next_cursor: str | None = Field(description="pass as cursor for the next page")


def _cursor(value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidInput.single(("query", "cursor"), "not a cursor this API gave") from None


async def members_page(
    session: AsyncSession, *, selection_id: uuid.UUID, limit: int, cursor: str | None
) -> MembersPage:
    """Members in relation id order, ``limit`` at a time."""
    row = await get_row(session, selection_id)
    m = selection_members
    statement = select(m.c.relation_id, m.c.added_at, m.c.added_by).where(
        m.c.selection_id == selection_id
    )
    after = _cursor(cursor)
    if after is not None:
        statement = statement.where(m.c.relation_id > after)
    rows = (await session.execute(statement.order_by(m.c.relation_id).limit(limit + 1))).all()
    members = [Member.model_validate(r, from_attributes=True) for r in rows[:limit]]
    more = len(rows) > limit
    return MembersPage(
        member_count=row["member_count"],
        members=members,
        next_cursor=str(members[-1].relation_id) if more else None,
    )


class Exclusion(BaseModel):
    relation_id: uuid.UUID
    excluded_at: datetime
    excluded_by: str | None


async def exclusions(session: AsyncSession, *, selection_id: uuid.UUID) -> list[Exclusion]:
    """The relations removed by hand, which refreshes keep out."""
    await get_row(session, selection_id)
    e = selection_exclusions
    rows = await session.execute(
        select(e.c.relation_id, e.c.excluded_at, e.c.excluded_by)
        .where(e.c.selection_id == selection_id)
        .order_by(e.c.excluded_at, e.c.relation_id)
    )
    return [Exclusion.model_validate(r, from_attributes=True) for r in rows]
