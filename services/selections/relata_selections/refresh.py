"""Refreshing a selection from its source, set-based in SQL, recording who was added and who
was removed; and the daily refresh of the selections that ask for one.

The source's ids are staged in a temporary table and compared with the members in two
statements. The rules: a ``source`` member the source no longer gives leaves; a relation the
source gives joins unless it is already in or was removed by hand (an exclusion); ``hand``
members stay whatever the source says.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import CursorResult, RowMapping, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relata_common.db import transaction
from relata_common.errors import Conflict, NotFound
from relata_common.events import (
    Actor,
    SelectionEventType,
    SelectionRefreshedPayload,
    SelectionSource,
)
from relata_common.logging import get_logger
from relata_selections import publishing
from relata_selections.freezing import STAGED, RelationIds, stage_relations
from relata_selections.models import refresh_changes, refreshes, selections
from relata_selections.selections import get_row
from relata_selections.sources import ListsSource, ServiceUnavailable, SourceGone

log = get_logger(__name__)

Trigger = Literal["hand", "daily", "mailing"]


class RefreshOut(BaseModel):
    refresh_id: uuid.UUID
    selection_id: uuid.UUID
    at: datetime
    trigger: str
    actor_kind: str
    actor_id: str | None
    source_count: int
    added_count: int
    removed_count: int
    member_count: int


def source_of(row: RowMapping) -> SelectionSource:
    return SelectionSource(kind=row["source_kind"], list_id=row["list_id"], filter=row["filter"])


def refreshable_source(row: RowMapping) -> SelectionSource:
    """The source to evaluate, or 409 for a hand-made selection."""
    source = source_of(row)
    if source.kind == "manual":
        raise Conflict("a hand-made selection has no source to refresh from")
    return source


_REMOVE = text(
    "WITH removed AS ("
    " DELETE FROM selection_members m WHERE m.selection_id = :s AND m.added_by = 'source'"
    f" AND NOT EXISTS (SELECT 1 FROM {STAGED} g WHERE g.relation_id = m.relation_id)"
    " RETURNING m.relation_id)"
    " INSERT INTO refresh_changes (refresh_id, relation_id, change)"
    " SELECT :r, relation_id, 'removed' FROM removed"
)
_ADD = text(
    "WITH added AS ("
    " INSERT INTO selection_members (selection_id, relation_id, added_at, added_by)"
    f" SELECT :s, g.relation_id, now(), 'source' FROM {STAGED} g"
    " WHERE NOT EXISTS (SELECT 1 FROM selection_members m"
    "  WHERE m.selection_id = :s AND m.relation_id = g.relation_id)"
    " AND NOT EXISTS (SELECT 1 FROM selection_exclusions e"
    "  WHERE e.selection_id = :s AND e.relation_id = g.relation_id)"
    " RETURNING relation_id)"
    " INSERT INTO refresh_changes (refresh_id, relation_id, change)"
    " SELECT :r, relation_id, 'added' FROM added"
)


async def apply_refresh(
    session: AsyncSession,
    *,
    selection_id: uuid.UUID,
    relation_ids: RelationIds,
    trigger: Trigger,
    actor: Actor,
    cap: int,
    today: date,
) -> RefreshOut:
    """Bring the members in line with what the source gave (distinct ids) and record it."""
    row = await get_row(session, selection_id, lock=True)
    refreshable_source(row)
    refresh_id = uuid.uuid4()
    await session.execute(
        refreshes.insert().values(
            refresh_id=refresh_id,
            selection_id=selection_id,
            trigger=trigger,
            actor_kind=actor.kind.value,
            actor_id=actor.id,
            source_count=len(relation_ids),
            added_count=0,
            removed_count=0,
            member_count=row["member_count"],
        )
    )
    await stage_relations(session, relation_ids)
    params = {"s": selection_id, "r": refresh_id}
    removal = await session.execute(_REMOVE, params)
    addition = await session.execute(_ADD, params)
    # A DELETE and an INSERT: their results count the rows they touched.
    assert isinstance(removal, CursorResult) and isinstance(addition, CursorResult)
    removed_count, added_count = removal.rowcount, addition.rowcount
    member_count = row["member_count"] + added_count - removed_count
    await session.execute(text(f"DROP TABLE {STAGED}"))
    await session.execute(
        update(refreshes)
        .where(refreshes.c.refresh_id == refresh_id)
        .values(added_count=added_count, removed_count=removed_count, member_count=member_count)
    )
    updated = (
        (
            await session.execute(
                update(selections)
                .where(selections.c.selection_id == selection_id)
                .values(
                    version=selections.c.version + 1,
                    member_count=member_count,
                    updated_at=func.now(),
                    refreshed_at=func.now(),
                    daily_run_on=today,
                )
                .returning(selections)
            )
        )
        .mappings()
        .one()
    )
    added = await _changed_ids(session, refresh_id, "added", added_count, cap)
    removed = await _changed_ids(session, refresh_id, "removed", removed_count, cap)
    await publishing.announce(
        session,
        event_type=SelectionEventType.REFRESHED,
        subject_id=str(selection_id),
        version=updated["version"],
        payload=SelectionRefreshedPayload(
            state=publishing.state_of(updated),
            refresh_id=refresh_id,
            trigger=trigger,
            source_count=len(relation_ids),
            changes=publishing.capped(
                added, removed, added_count=added_count, removed_count=removed_count, cap=cap
            ),
        ),
        actor=actor,
    )
    return await get_refresh(session, selection_id=selection_id, refresh_id=refresh_id)


async def _changed_ids(
    session: AsyncSession, refresh_id: uuid.UUID, change: str, count: int, cap: int
) -> list[uuid.UUID]:
    if count == 0:
        return []
    c = refresh_changes
    rows = await session.execute(
        select(c.c.relation_id)
        .where(c.c.refresh_id == refresh_id, c.c.change == change)
        .order_by(c.c.relation_id)
        .limit(cap)
    )
    return list(rows.scalars())


async def refresh_now(
    sessions: async_sessionmaker[AsyncSession],
    source: ListsSource,
    *,
    selection_id: uuid.UUID,
    trigger: Trigger,
    actor: Actor,
    cap: int,
    today: date,
) -> RefreshOut:
    """Evaluate the source (no transaction open meanwhile), then apply the difference."""
    async with transaction(sessions) as session:
        row = await get_row(session, selection_id)
        wanted = refreshable_source(row)
    ids = await _source_ids(source, wanted)
    async with transaction(sessions) as session:
        return await apply_refresh(
            session,
            selection_id=selection_id,
            relation_ids=ids,
            trigger=trigger,
            actor=actor,
            cap=cap,
            today=today,
        )


async def _source_ids(source: ListsSource, wanted: SelectionSource) -> list[str]:
    try:
        return await source.relation_ids(wanted)
    except NotFound as error:
        raise SourceGone(
            f"relation list {wanted.list_id} no longer exists: the selection cannot be refreshed",
            list_id=str(wanted.list_id),
        ) from error


# --- history -----------------------------------------------------------------------------------


async def refresh_history(session: AsyncSession, *, selection_id: uuid.UUID) -> list[RefreshOut]:
    """Every refresh, newest first, with its counts."""
    await get_row(session, selection_id)
    rows = await session.execute(
        select(refreshes)
        .where(refreshes.c.selection_id == selection_id)
        .order_by(refreshes.c.at.desc(), refreshes.c.refresh_id)
    )
    return [RefreshOut.model_validate(r, from_attributes=True) for r in rows.mappings()]


async def get_refresh(
    session: AsyncSession, *, selection_id: uuid.UUID, refresh_id: uuid.UUID
) -> RefreshOut:
    row = (
        (
            await session.execute(
                select(refreshes).where(
                    refreshes.c.refresh_id == refresh_id, refreshes.c.selection_id == selection_id
                )
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"refresh {refresh_id} of selection {selection_id} not found")
    return RefreshOut.model_validate(dict(row))


class ChangesPage(BaseModel):
    change: str
    count: int
    relation_ids: list[uuid.UUID]
    next_cursor: str | None


async def refresh_changes_page(
    session: AsyncSession,
    *,
    selection_id: uuid.UUID,
    refresh_id: uuid.UUID,
    change: Literal["added", "removed"],
    limit: int,
    after: uuid.UUID | None,
) -> ChangesPage:
    """Who a refresh added (or removed), in relation id order, ``limit`` at a time."""
    found = await get_refresh(session, selection_id=selection_id, refresh_id=refresh_id)
    c = refresh_changes
    statement = select(c.c.relation_id).where(c.c.refresh_id == refresh_id, c.c.change == change)
    if after is not None:
        statement = statement.where(c.c.relation_id > after)
    ids: list[uuid.UUID] = list(
        (await session.execute(statement.order_by(c.c.relation_id).limit(limit + 1))).scalars()
    )
    return ChangesPage(
        change=change,
        count=found.added_count if change == "added" else found.removed_count,
        relation_ids=ids[:limit],
        next_cursor=str(ids[limit - 1]) if len(ids) > limit else None,
    )


# --- the daily refresh -------------------------------------------------------------------------


async def _claim_due(
    sessions: async_sessionmaker[AsyncSession], today: date, at: time
) -> tuple[uuid.UUID, SelectionSource, date | None] | None:
    """Take one selection due for today's refresh (its time of day reached by ``at``) and
    mark it run today.

    ``SKIP LOCKED`` lets several workers share the daily run without doing one twice.
    """
    async with transaction(sessions) as session:
        row = (
            (
                await session.execute(
                    select(selections)
                    .where(
                        selections.c.daily_refresh,
                        (selections.c.daily_run_on.is_(None)) | (selections.c.daily_run_on < today),
                        (selections.c.daily_at.is_(None)) | (selections.c.daily_at <= at),
                    )
                    .limit(1)
                    .with_for_update(skip_locked=True)
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        await session.execute(
            update(selections)
            .where(selections.c.selection_id == row["selection_id"])
            .values(daily_run_on=today)
        )
        return row["selection_id"], source_of(row), row["daily_run_on"]


async def refresh_due_selection(
    sessions: async_sessionmaker[AsyncSession],
    source: ListsSource,
    *,
    today: date,
    cap: int,
    at: time = time.max,
) -> bool:
    """Refresh one selection due for its daily refresh; False when none is due, or when the
    lists service does not answer (the claim is released so a later round tries again).

    ``at`` is the local time of day now: a selection with a ``daily_at`` later than that waits
    (the default, the end of the day, finds every selection due today)."""
    claimed = await _claim_due(sessions, today, at)
    if claimed is None:
        return False
    selection_id, wanted, previous_day = claimed
    try:
        ids = await _source_ids(source, wanted)
    except ServiceUnavailable:
        async with transaction(sessions) as session:
            await session.execute(
                update(selections)
                .where(selections.c.selection_id == selection_id)
                .values(daily_run_on=previous_day)
            )
        return False
    except SourceGone:
        log.warning("daily refresh skipped: its list is gone", selection_id=str(selection_id))
        return True
    try:
        async with transaction(sessions) as session:
            done = await apply_refresh(
                session,
                selection_id=selection_id,
                relation_ids=ids,
                trigger="daily",
                actor=Actor.system(),
                cap=cap,
                today=today,
            )
    except NotFound:
        return True  # deleted meanwhile
    log.info(
        "daily refresh",
        selection_id=str(selection_id),
        added=done.added_count,
        removed=done.removed_count,
    )
    return True
