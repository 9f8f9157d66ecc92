"""Contact moments and their follow-ups as a view may show them.

A moment can link several relations. A view shows a moment when it shows at least one of them;
the moment then names only the relations the view shows, and the e-mail's addresses only when
the form shows e-mail addresses and every linked relation is in the view (an address in Cc may
belong to a relation the view hides). Attachments are shown by name, type and size.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from relata_common.client import Upstream
from relata_common.errors import Gone, NotFound
from relata_gateway import pages
from relata_gateway.cards import CardContext, lists_of_many
from relata_gateway.views import View

SECTION = "contact_moments"
"""The form section that shows contact moments (and so their follow-ups)."""

Kind = Literal["phone", "email", "visit", "letter", "meeting", "other"]
Direction = Literal["in", "out"]


class Attachment(BaseModel):
    filename: str
    content_type: str
    size: int = Field(description="decoded size in bytes")


class Mailbox(BaseModel):
    name: str
    address: str


class EmailOut(BaseModel):
    """What an ingested e-mail adds to its moment."""

    message_id: str | None
    attachments: list[Attachment]
    sender: list[Mailbox] | None = Field(
        default=None,
        serialization_alias="from",
        description="null unless the form shows e-mail addresses and the view every relation",
    )
    to: list[Mailbox] | None = None
    cc: list[Mailbox] | None = None


class FollowUpOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "follow_up_id": "6f1c2b8e-2f5d-4c1e-9a57-0d6b7a3c9e21",
                    "version": 1,
                    "contact_moment_id": "0b8f5a61-7d3e-4b2a-8c9f-1e2d3c4b5a69",
                    "assignee_id": "3c9e0a52-1b7f-4d8e-a6c5-9f0e1d2c3b4a",
                    "assignee_name": "Anna de Boer",
                    "due_on": "2026-12-10",
                    "note": "Send the brochure",
                    "done": False,
                    "done_at": None,
                }
            ]
        }
    )

    follow_up_id: uuid.UUID
    version: int
    contact_moment_id: uuid.UUID
    assignee_id: str
    assignee_name: str | None = Field(description="null when the assignee is no user")
    due_on: date
    note: str
    done: bool
    done_at: datetime | None


class ContactMomentOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "contact_moment_id": "0b8f5a61-7d3e-4b2a-8c9f-1e2d3c4b5a69",
                    "version": 2,
                    "kind": "phone",
                    "direction": "in",
                    "subject": "Question about the membership fee",
                    "notes": "Called back, sent the invoice again.",
                    "occurred_at": "2026-11-26T09:30:00Z",
                    "relation_ids": ["9d2e4f60-3a1b-4c5d-8e7f-6a5b4c3d2e1f"],
                    "logged_by": "Anna de Boer",
                    "source": "manual",
                    "email": None,
                    "deleted": False,
                    "follow_ups": [],
                    "created_at": "2026-11-26T09:31:02Z",
                    "updated_at": "2026-11-26T09:40:17Z",
                }
            ]
        }
    )

    contact_moment_id: uuid.UUID
    version: int
    kind: Kind
    direction: Direction
    subject: str
    notes: str
    occurred_at: datetime
    relation_ids: list[uuid.UUID] = Field(description="the linked relations this view shows")
    logged_by: str | None = Field(description="the name of the user who logged it")
    source: Literal["manual", "email"]
    email: EmailOut | None = None
    deleted: bool = False
    follow_ups: list[FollowUpOut] | None = Field(
        default=None, description="soonest due first; null in a timeline"
    )
    created_at: datetime
    updated_at: datetime


class RelationRef(BaseModel):
    """A relation as one of the caller's views shows it (to open its card there)."""

    relation_id: uuid.UUID
    view_id: uuid.UUID
    display_name: str


# --- which relations a view shows -------------------------------------------------------------


async def shown_by(ctx: CardContext, view: View, relation_ids: list[str]) -> set[str]:
    """Which of these relations the view shows. Unlike ``cards.visible_ids`` a lists service
    that does not answer is a 503, not "none": a moment must not look missing because of it."""
    if not relation_ids:
        return set()
    memberships = await lists_of_many(ctx, [uuid.UUID(r) for r in relation_ids])
    base = str(view.base_list_id)
    return {relation_id for relation_id, lists in memberships.items() if base in lists}


async def moment_in_view(
    ctx: CardContext, view: View, moment_id: uuid.UUID, *, deleted_too: bool = False
) -> tuple[dict[str, Any], set[str]]:
    """The service's moment and the relations of it the view shows; 404 when the view shows
    none of them (as if it did not exist), 410 when deleted (unless ``deleted_too``)."""
    try:
        answer = await ctx.services.contactmoments.call(
            "GET", f"/contact-moments/{moment_id}", params={"include_deleted": "true"}
        )
    except Upstream as error:
        if error.status_code == 404:
            raise NotFound(f"contact moment {moment_id} does not exist") from None
        raise
    moment: dict[str, Any] = answer.json()
    shown = await shown_by(ctx, view, moment["relation_ids"])
    if not shown:
        raise NotFound(f"contact moment {moment_id} does not exist")
    if moment["deleted"] and not deleted_too:
        raise Gone(f"contact moment {moment_id} was deleted; its history remains")
    return moment, shown


# --- what leaves the gateway ------------------------------------------------------------------


def _email(view: View, moment: dict[str, Any], shown: set[str]) -> EmailOut | None:
    email = moment.get("email")
    if not email:
        return None
    addresses = view.form.shows("emails") and shown >= set(moment["relation_ids"])
    return EmailOut(
        message_id=email.get("message_id"),
        attachments=[Attachment.model_validate(a) for a in email.get("attachments", [])],
        sender=[Mailbox.model_validate(m) for m in email.get("from", [])] if addresses else None,
        to=[Mailbox.model_validate(m) for m in email.get("to", [])] if addresses else None,
        cc=[Mailbox.model_validate(m) for m in email.get("cc", [])] if addresses else None,
    )


def follow_up_out(follow_up: dict[str, Any], names: dict[str, str]) -> FollowUpOut:
    return FollowUpOut(
        follow_up_id=follow_up["follow_up_id"],
        version=follow_up["version"],
        contact_moment_id=follow_up["contact_moment_id"],
        assignee_id=follow_up["assignee_id"],
        assignee_name=names.get(follow_up["assignee_id"]),
        due_on=follow_up["due_on"],
        note=follow_up["note"],
        done=follow_up["done"],
        done_at=follow_up.get("done_at"),
    )


def moment_out(
    view: View,
    moment: dict[str, Any],
    shown: set[str],
    names: dict[str, str],
    follow_ups: list[dict[str, Any]] | None = None,
) -> ContactMomentOut:
    """The moment as this view shows it; ``names`` are users' names by id."""
    return ContactMomentOut(
        contact_moment_id=moment["contact_moment_id"],
        version=moment["version"],
        kind=moment["kind"],
        direction=moment["direction"],
        subject=moment["subject"],
        notes=moment["notes"],
        occurred_at=moment["occurred_at"],
        relation_ids=[r for r in moment["relation_ids"] if r in shown],
        logged_by=names.get(moment.get("user_id") or ""),
        source=moment["source"],
        email=_email(view, moment, shown),
        deleted=moment["deleted"],
        follow_ups=None if follow_ups is None else [follow_up_out(f, names) for f in follow_ups],
        created_at=moment["created_at"],
        updated_at=moment["updated_at"],
    )


def user_ids_of(moment: dict[str, Any], follow_ups: list[dict[str, Any]]) -> list[str]:
    """The users a moment and its follow-ups name (to look their names up at once)."""
    return [i for i in [moment.get("user_id"), *(f["assignee_id"] for f in follow_ups)] if i]


# --- the caller's views -------------------------------------------------------------------------


async def named_in_views(
    ctx: CardContext, views_of_user: list[View], relation_ids: list[str]
) -> dict[str, RelationRef]:
    """Each relation the caller's views show (those whose form shows contact moments), named
    as the first such view (by name) names it; relations none of them shows are left out."""
    usable = [view for view in views_of_user if view.form.shows(SECTION)]
    ids = list(dict.fromkeys(relation_ids))
    if not usable or not ids:
        return {}
    memberships = await lists_of_many(ctx, [uuid.UUID(r) for r in ids])
    by_view: dict[uuid.UUID, list[str]] = {}
    chosen: dict[uuid.UUID, View] = {}
    for relation_id in ids:
        lists = memberships.get(relation_id, [])
        view = next((v for v in usable if str(v.base_list_id) in lists), None)
        if view is not None:
            by_view.setdefault(view.id, []).append(relation_id)
            chosen[view.id] = view
    named = await asyncio.gather(
        *(
            pages.names(ctx, chosen[view_id], [{"relation_id": r} for r in rows])
            for view_id, rows in by_view.items()
        )
    )
    return {
        relation_id: RelationRef(relation_id=relation_id, view_id=view_id, display_name=name)
        for view_id, names in zip(by_view, named, strict=True)
        for relation_id, name in names.items()
    }
