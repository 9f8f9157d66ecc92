"""What a relation did elsewhere, as the read model holds it: its donations (a summary and a
newest-first page) and its event registrations, grouped per event.

Pages are keyset-paged: a cursor names the last row of the page before, so a page costs one
index range scan however deep it is (``ix_rm_donations_relation`` on ``(relation_id,
received_on, donation_id)``; registrations by ``relation_id``).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import and_, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from relata_common.errors import InvalidInput
from relata_lists.models import rm_donations, rm_registrations

d = rm_donations
g = rm_registrations
SEPARATOR = "~"


class Gift(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"received_on": "2026-11-02", "amount": "25.00", "currency": "EUR"}]
        }
    )

    received_on: date
    amount: Decimal
    currency: str


class Total(BaseModel):
    currency: str
    amount: Decimal
    count: int


class DonationSummary(BaseModel):
    """Count, totals per currency, and the first and last gift (None when there are none)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "count": 3,
                    "total": [{"currency": "EUR", "amount": "85.00", "count": 3}],
                    "first_gift": {
                        "received_on": "2024-12-20",
                        "amount": "25.00",
                        "currency": "EUR",
                    },
                    "last_gift": {
                        "received_on": "2026-11-02",
                        "amount": "35.00",
                        "currency": "EUR",
                    },
                }
            ]
        }
    )

    count: int
    total: list[Total]
    first_gift: Gift | None = None
    last_gift: Gift | None = None


class Donation(BaseModel):
    donation_id: uuid.UUID
    received_on: date
    amount: Decimal
    currency: str
    campaign: str | None = None


class DonationPage(BaseModel):
    donations: list[Donation]
    next: str | None = None
    """Cursor of the next page (pass as ``after``); None on the last page."""


class Registration(BaseModel):
    registration_id: uuid.UUID
    status: str
    registered_at: datetime | None = None


class EventRegistrations(BaseModel):
    """One event and the relation's registrations for it."""

    event_code: str
    event_date: date | None = None
    registrations: list[Registration]


class RegistrationPage(BaseModel):
    events: list[EventRegistrations]
    next: str | None = None


def _bad_cursor(name: str) -> InvalidInput:
    return InvalidInput.single(("query", name), "not a cursor this endpoint handed out")


async def donation_summary(session: AsyncSession, relation_id: uuid.UUID) -> DonationSummary:
    """The summary in two index range scans: totals per currency, then the first and last gift."""
    totals = (
        await session.execute(
            select(d.c.currency, func.sum(d.c.amount), func.count())
            .where(d.c.relation_id == relation_id)
            .group_by(d.c.currency)
            .order_by(d.c.currency)
        )
    ).all()
    if not totals:
        return DonationSummary(count=0, total=[])
    gift = select(d.c.received_on, d.c.amount, d.c.currency).where(d.c.relation_id == relation_id)
    first = gift.order_by(d.c.received_on, d.c.donation_id).limit(1)
    last = gift.order_by(d.c.received_on.desc(), d.c.donation_id.desc()).limit(1)
    ends = (await session.execute(first.union_all(last))).all()
    return DonationSummary(
        count=sum(row[2] for row in totals),
        total=[Total(currency=c, amount=a, count=n) for c, a, n in totals],
        first_gift=Gift.model_validate(ends[0], from_attributes=True),
        last_gift=Gift.model_validate(ends[-1], from_attributes=True),
    )


def _donation_after(cursor: str) -> Any:
    try:
        day, _, donation_id = cursor.partition(SEPARATOR)
        key = (date.fromisoformat(day), uuid.UUID(donation_id))
    except ValueError:
        raise _bad_cursor("after") from None
    return tuple_(d.c.received_on, d.c.donation_id) < key


async def donations(
    session: AsyncSession, relation_id: uuid.UUID, *, limit: int, after: str | None
) -> DonationPage:
    """A page of donations, newest first."""
    statement = (
        select(d.c.donation_id, d.c.received_on, d.c.amount, d.c.currency, d.c.campaign)
        .where(d.c.relation_id == relation_id)
        .order_by(d.c.received_on.desc(), d.c.donation_id.desc())
        .limit(limit + 1)
    )
    if after:
        statement = statement.where(_donation_after(after))
    rows = (await session.execute(statement)).all()
    page = [Donation.model_validate(row, from_attributes=True) for row in rows[:limit]]
    last = page[-1] if len(rows) > limit else None
    return DonationPage(
        donations=page,
        next=f"{last.received_on.isoformat()}{SEPARATOR}{last.donation_id}" if last else None,
    )


async def registrations(
    session: AsyncSession, relation_id: uuid.UUID, *, limit: int, after: str | None
) -> RegistrationPage:
    """A page of events the relation registered for, newest event first (by the event's date,
    else by when the relation first registered for it), each with its registrations."""
    day = func.coalesce(
        func.max(g.c.event_date), func.min(func.date(g.c.registered_at)), date(1, 1, 1)
    )
    events = (
        select(g.c.event_code, func.max(g.c.event_date).label("event_date"), day.label("day"))
        .where(g.c.relation_id == relation_id)
        .group_by(g.c.event_code)
        .subquery()
    )
    statement = select(events).order_by(events.c.day.desc(), events.c.event_code).limit(limit + 1)
    if after:
        try:
            raw_day, _, code = after.partition(SEPARATOR)
            last_day = date.fromisoformat(raw_day)
        except ValueError:
            raise _bad_cursor("after") from None
        statement = statement.where(
            or_(
                events.c.day < last_day,
                and_(events.c.day == last_day, events.c.event_code > code),
            )
        )
    found = (await session.execute(statement)).all()
    shown = found[:limit]
    held = await _registrations_of(session, relation_id, [row.event_code for row in shown])
    last = shown[-1] if len(found) > limit else None
    return RegistrationPage(
        events=[
            EventRegistrations(
                event_code=row.event_code,
                event_date=row.event_date,
                registrations=held.get(row.event_code, []),
            )
            for row in shown
        ],
        next=f"{last.day.isoformat()}{SEPARATOR}{last.event_code}" if last else None,
    )


async def _registrations_of(
    session: AsyncSession, relation_id: uuid.UUID, codes: list[str]
) -> dict[str, list[Registration]]:
    if not codes:
        return {}
    rows = await session.execute(
        select(g.c.event_code, g.c.registration_id, g.c.status, g.c.registered_at)
        .where(g.c.relation_id == relation_id, g.c.event_code.in_(codes))
        .order_by(g.c.event_code, g.c.registered_at.desc().nulls_last(), g.c.registration_id)
    )
    held: dict[str, list[Registration]] = {}
    for row in rows:
        held.setdefault(row.event_code, []).append(
            Registration.model_validate(row, from_attributes=True)
        )
    return held


class CardFacts(BaseModel):
    """What the relation card shows of a relation's facts, read in one call."""

    donations: DonationSummary
    registrations: list[EventRegistrations]


async def card_facts(session: AsyncSession, relation_id: uuid.UUID, *, events: int) -> CardFacts:
    summary = await donation_summary(session, relation_id)
    latest = await registrations(session, relation_id, limit=events, after=None)
    return CardFacts(donations=summary, registrations=latest.events)
