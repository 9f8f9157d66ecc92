"""What a relation did elsewhere: its donations and its event registrations, as the donations
and events modules published them (the lists service keeps them in its read model). A view's
users read them when the view's form shows the ``donations`` or ``registrations`` section;
the card carries a summary, these pages the rest."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from relata_gateway import views
from relata_gateway.cards import require_visible
from relata_gateway.deps import Limit, SessionDep, UserDep, card_context, needs_section
from relata_gateway.security import User

router = APIRouter(prefix="/views", tags=["relation facts"])
Cursor = Annotated[
    str | None,
    Query(max_length=200, description="the ``next`` of the page before; none for the first page"),
]
ANSWERS: dict[int | str, dict[str, Any]] = {
    403: {"description": "the view's form does not show this section"},
    404: {"description": "the view is not granted, or does not show the relation"},
    422: {"description": "a bad ``limit`` or an ``after`` this endpoint did not hand out"},
}


class Donation(BaseModel):
    donation_id: uuid.UUID
    received_on: date
    amount: Decimal
    currency: str = Field(description="ISO 4217 code")
    campaign: str | None = Field(default=None, description="as the donations module names it")


class DonationPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "donations": [
                        {
                            "donation_id": "5d0c4a52-2f7e-4a61-9d1f-0c5a3a1e7b21",
                            "received_on": "2026-11-02",
                            "amount": "35.00",
                            "currency": "EUR",
                            "campaign": "Christmas appeal",
                        },
                        {
                            "donation_id": "0f9a7d1e-61b2-4c0e-8f3a-2b6c9e4d5a10",
                            "received_on": "2025-06-14",
                            "amount": "25.00",
                            "currency": "EUR",
                            "campaign": None,
                        },
                    ],
                    "next": "2025-06-14~0f9a7d1e-61b2-4c0e-8f3a-2b6c9e4d5a10",
                }
            ]
        }
    )

    donations: list[Donation] = Field(description="newest first")
    next: str | None = Field(description="pass as ``after`` for the next page; none on the last")


class Registration(BaseModel):
    registration_id: uuid.UUID
    status: str = Field(description="registered, attended or cancelled")
    registered_at: datetime | None = Field(
        default=None, description="when the relation registered (unknown for older facts)"
    )


class EventRegistrations(BaseModel):
    event_code: str = Field(description="the event as the events module identifies it")
    event_date: date | None = None
    registrations: list[Registration]


class RegistrationPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "events": [
                        {
                            "event_code": "GALA-2026",
                            "event_date": "2026-12-12",
                            "registrations": [
                                {
                                    "registration_id": "8b7e0c1a-3d4f-4e5a-9b6c-7d8e9f0a1b2c",
                                    "status": "registered",
                                    "registered_at": "2026-11-20T09:12:00Z",
                                }
                            ],
                        }
                    ],
                    "next": None,
                }
            ]
        }
    )

    events: list[EventRegistrations] = Field(description="newest event first")
    next: str | None = Field(description="pass as ``after`` for the next page; none on the last")


async def _page(
    request: Request,
    session: AsyncSession,
    user: User,
    view_id: uuid.UUID,
    relation_id: uuid.UUID,
    section: str,
    params: dict[str, Any],
) -> Any:
    """The lists service's page of a relation's facts, once the view may show them."""
    view = await views.access(session, user, view_id)
    needs_section(view, section)
    await require_visible(card_context(request), view, relation_id)
    query = {name: value for name, value in params.items() if value is not None}
    response = await request.app.state.services.lists.call(
        "GET", f"/relations/{relation_id}/{section}", params=query
    )
    return response.json()


@router.get("/{view_id}/relations/{relation_id}/donations", responses=ANSWERS)
async def relation_donations(
    view_id: uuid.UUID,
    relation_id: uuid.UUID,
    user: UserDep,
    request: Request,
    session: SessionDep,
    limit: Limit = 50,
    after: Cursor = None,
) -> DonationPage:
    """The relation's donations, newest first, a page at a time (the view's form must show
    the donations section; the card carries the count, totals and first and last gift)."""
    page = await _page(
        request, session, user, view_id, relation_id, "donations", {"limit": limit, "after": after}
    )
    return DonationPage.model_validate(page)


@router.get("/{view_id}/relations/{relation_id}/registrations", responses=ANSWERS)
async def relation_registrations(
    view_id: uuid.UUID,
    relation_id: uuid.UUID,
    user: UserDep,
    request: Request,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200, description="events per page")] = 50,
    after: Cursor = None,
) -> RegistrationPage:
    """The events the relation registered for, newest first, each with its registrations and
    their status (the view's form must show the registrations section)."""
    page = await _page(
        request,
        session,
        user,
        view_id,
        relation_id,
        "registrations",
        {"limit": limit, "after": after},
    )
    return RegistrationPage.model_validate(page)
