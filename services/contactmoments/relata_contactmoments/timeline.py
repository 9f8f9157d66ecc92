"""A relation's timeline: its live contact moments, newest first, paged by cursor.

Keyset paging on ``(occurred_at, id)``: a page continues strictly after the last row of the
previous one, so reading page 200 costs what reading page 1 costs (one range scan of the
timeline index), where OFFSET would read and throw away every row before it. The id breaks ties
between moments logged at the same instant, so no moment is skipped or shown twice.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel, Field
from sqlalchemy import Select, not_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from relata_common.errors import InvalidInput
from relata_contactmoments.models import contact_moment_links, contact_moments
from relata_contactmoments.moments import MomentRecord
from relata_contactmoments.schemas import ContactMoment, Kind


class TimelinePage(BaseModel):
    items: list[ContactMoment]
    next: str | None = Field(description="cursor of the next (older) page; null on the last page")


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: the (occurred_at, id) of its last moment."""

    occurred_at: datetime
    contact_moment_id: uuid.UUID

    def encode(self) -> str:
        raw = f"{self.occurred_at.isoformat()}|{self.contact_moment_id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
            at, moment_id = raw.split("|")
            occurred_at = datetime.fromisoformat(at)
            if occurred_at.tzinfo is None:
                raise ValueError("naive timestamp")
            return cls(occurred_at, uuid.UUID(moment_id))
        except (ValueError, UnicodeDecodeError, binascii.Error):
            raise InvalidInput.single(
                ("query", "cursor"), "not a cursor this service gave out"
            ) from None


def aware(value: datetime | None) -> datetime | None:
    """A period bound without a time zone is read as UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def timeline_statement(
    relation_id: uuid.UUID,
    *,
    kinds: Sequence[Kind] = (),
    period_from: datetime | None = None,
    period_to: datetime | None = None,
) -> Select:
    """The timeline query without paging, newest first: shared by keyset paging and the bench."""
    links = contact_moment_links
    statement = (
        select(contact_moments)
        .select_from(links.join(contact_moments, contact_moments.c.id == links.c.contact_moment_id))
        .where(links.c.relation_id == relation_id, not_(links.c.deleted))
        .order_by(links.c.occurred_at.desc(), links.c.contact_moment_id.desc())
    )
    if kinds:
        statement = statement.where(links.c.kind.in_(list(kinds)))
    if period_from is not None:
        statement = statement.where(links.c.occurred_at >= period_from)
    if period_to is not None:
        statement = statement.where(links.c.occurred_at < period_to)
    return statement


async def timeline(
    session: AsyncSession,
    *,
    relation_id: uuid.UUID,
    limit: int,
    cursor: str | None = None,
    kinds: Sequence[Kind] = (),
    period_from: datetime | None = None,
    period_to: datetime | None = None,
) -> TimelinePage:
    """One page of the relation's timeline. ``from`` is inclusive, ``to`` exclusive."""
    period_from, period_to = aware(period_from), aware(period_to)
    if period_from is not None and period_to is not None and period_from >= period_to:
        raise InvalidInput.single(("query", "to"), "'to' must lie after 'from'")
    statement = timeline_statement(
        relation_id, kinds=kinds, period_from=period_from, period_to=period_to
    )
    if cursor is not None:
        after = Cursor.decode(cursor)
        links = contact_moment_links
        statement = statement.where(
            tuple_(links.c.occurred_at, links.c.contact_moment_id)
            < tuple_(after.occurred_at, after.contact_moment_id)
        )
    # One row more than asked says whether another page follows, without counting.
    rows = (await session.execute(statement.limit(limit + 1))).mappings().all()
    records = [MomentRecord.from_row(row) for row in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = records[-1]
        next_cursor = Cursor(last.occurred_at, last.id).encode()
    return TimelinePage(items=[record.out() for record in records], next=next_cursor)
