"""Reading lists: members (paged, with the too-large rule), ad-hoc evaluation, the lists of a
relation, who was in a list on a date, and why a relation is in a list."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from relata_common.errors import InvalidInput, NotFound
from relata_lists.compiler import Compiler
from relata_lists.models import lists, membership_history, memberships, rm_relations

r = rm_relations


class RelationRow(BaseModel):
    relation_id: uuid.UUID
    relation_type: str
    relation_number: int | None
    display_name: str


class Page(BaseModel):
    """A page of relations, or only the count when there are too many to browse."""

    count: int
    too_large: bool = False
    hint: str | None = None
    relations: list[RelationRow] = []
    next: str | None = None


def _cursor(row: Any) -> str:
    """Opaque and URL-safe: the sort name may hold any character a name can."""
    raw = f"{row.sort_name}\x1f{row.relation_id}".encode()
    return base64.urlsafe_b64encode(raw).decode()


def _after(cursor: str | None) -> Any:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor.encode("ascii")).decode()
        sort_name, _, relation_id = raw.rpartition("\x1f")
        after_id = uuid.UUID(relation_id)
    except (ValueError, UnicodeError):
        raise InvalidInput.single(("query", "cursor"), "not a cursor this list gave") from None
    return or_(
        r.c.sort_name > sort_name,
        and_(r.c.sort_name == sort_name, r.c.relation_id > after_id),
    )


async def _page(
    session: AsyncSession, condition: Any, count: int, limit: int, cursor: str | None
) -> Page:
    statement = (
        select(
            r.c.relation_id, r.c.relation_type, r.c.relation_number, r.c.display_name, r.c.sort_name
        )
        .where(condition)
        .order_by(r.c.sort_name, r.c.relation_id)
        .limit(limit + 1)
    )
    after = _after(cursor)
    if after is not None:
        statement = statement.where(after)
    rows = (await session.execute(statement)).all()
    page = [RelationRow.model_validate(row, from_attributes=True) for row in rows[:limit]]
    return Page(
        count=count, relations=page, next=_cursor(rows[limit - 1]) if len(rows) > limit else None
    )


def too_large(count: int, threshold: int) -> Page:
    return Page(
        count=count,
        too_large=True,
        hint=f"{count} relations is more than {threshold} to browse: narrow the filter",
    )


async def members(
    session: AsyncSession, *, list_id: uuid.UUID, limit: int, cursor: str | None, threshold: int
) -> Page:
    if await session.scalar(select(lists.c.list_id).where(lists.c.list_id == list_id)) is None:
        raise NotFound(f"relation list {list_id} does not exist")
    count = int(
        await session.scalar(
            select(func.count()).select_from(memberships).where(memberships.c.list_id == list_id)
        )
        or 0
    )
    if count > threshold:
        return too_large(count, threshold)
    in_list = r.c.relation_id.in_(
        select(memberships.c.relation_id).where(memberships.c.list_id == list_id)
    )
    return await _page(session, in_list, count, limit, cursor)


async def evaluate(
    session: AsyncSession,
    *,
    node: Any,
    compiler: Compiler,
    limit: int,
    cursor: str | None,
    threshold: int,
) -> Page:
    """Count and a sorted page of the relations matching a filter, right now."""
    condition = compiler.matching(node)
    count = int(await session.scalar(select(func.count()).select_from(r).where(condition)) or 0)
    if count > threshold:
        return too_large(count, threshold)
    return await _page(session, condition, count, limit, cursor)


async def matching_ids(session: AsyncSession, *, node: Any, compiler: Compiler) -> list[uuid.UUID]:
    """Every matching relation id (for freezing a selection)."""
    rows = await session.execute(
        select(r.c.relation_id).where(compiler.matching(node)).order_by(r.c.relation_id)
    )
    return list(rows.scalars())


class ListMembership(BaseModel):
    list_id: uuid.UUID
    name: str
    since: datetime


async def lists_of(session: AsyncSession, relation_id: uuid.UUID) -> list[ListMembership]:
    rows = await session.execute(
        select(lists.c.list_id, lists.c.name, memberships.c.since)
        .join(memberships, memberships.c.list_id == lists.c.list_id)
        .where(memberships.c.relation_id == relation_id)
        .order_by(lists.c.name)
    )
    return [ListMembership.model_validate(row, from_attributes=True) for row in rows]


async def lists_of_many(
    session: AsyncSession, relation_ids: list[uuid.UUID]
) -> dict[str, list[ListMembership]]:
    """The lists each of these relations is in now, by relation id, in one query (an unknown
    relation, like one in no list, has none)."""
    found: dict[str, list[ListMembership]] = {str(r): [] for r in relation_ids}
    if not relation_ids:
        return found
    rows = await session.execute(
        select(memberships.c.relation_id, lists.c.list_id, lists.c.name, memberships.c.since)
        .join(memberships, memberships.c.list_id == lists.c.list_id)
        .where(memberships.c.relation_id.in_(relation_ids))
        .order_by(memberships.c.relation_id, lists.c.name)
    )
    for row in rows:
        found[str(row.relation_id)].append(
            ListMembership(list_id=row.list_id, name=row.name, since=row.since)
        )
    return found


async def members_at(session: AsyncSession, *, list_id: uuid.UUID, at: datetime) -> list[uuid.UUID]:
    """Who was in the list at a moment: those whose last change by then was entering it."""
    h = membership_history
    latest = (
        select(h.c.relation_id, func.max(h.c.id).label("last_id"))
        .where(h.c.list_id == list_id, h.c.at <= at)
        .group_by(h.c.relation_id)
        .subquery()
    )
    rows = await session.execute(
        select(h.c.relation_id)
        .join(latest, h.c.id == latest.c.last_id)
        .where(h.c.change == "entered")
        .order_by(h.c.relation_id)
    )
    return list(rows.scalars())


class MembershipRecord(BaseModel):
    change: str
    at: datetime
    cause: dict[str, Any]


async def why(
    session: AsyncSession, *, list_id: uuid.UUID, relation_id: uuid.UUID
) -> list[MembershipRecord]:
    """The membership history of a relation in a list, newest first, each with its cause."""
    h = membership_history
    rows = await session.execute(
        select(h.c.change, h.c.at, h.c.cause)
        .where(h.c.list_id == list_id, h.c.relation_id == relation_id)
        .order_by(h.c.id.desc())
        .limit(50)
    )
    return [MembershipRecord.model_validate(row, from_attributes=True) for row in rows]
