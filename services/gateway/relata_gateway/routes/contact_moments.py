"""Contact moments through a view: a relation's timeline, logging, reading, changing and
deleting a moment with its history, follow-ups and the caller's open follow-ups; and e-mail
ingestion for mail-client add-ins.

Everything under ``/views/{view_id}`` needs the view's form to show contact moments (403) and
answers 404 for a moment none of whose relations the view shows; writes need edit rights in the
view (403). What a moment shows is decided in :mod:`relata_gateway.contact_moments`.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relata_common.client import Upstream
from relata_common.errors import InvalidInput, NotFound, PayloadTooLarge, UnsupportedMediaType
from relata_common.input import Day
from relata_common.web import IfMatchDep, OptionalIfMatchDep, etag
from relata_gateway import cache, views
from relata_gateway.cards import CardContext, require_visible
from relata_gateway.contact_moments import (
    SECTION,
    Attachment,
    ContactMomentOut,
    Direction,
    FollowUpOut,
    Kind,
    RelationRef,
    follow_up_out,
    moment_in_view,
    moment_out,
    named_in_views,
    shown_by,
    user_ids_of,
)
from relata_gateway.deps import (
    Limit,
    SessionDep,
    SnapshotDep,
    UserDep,
    card_context,
    editable,
    needs_section,
)
from relata_gateway.models import users
from relata_gateway.rights import Scope, scope
from relata_gateway.routes.workspace import display_names
from relata_gateway.security import User

router = APIRouter(tags=["contact moments"])

MAIL_PATH = "/mail/messages"
MAIL_MEDIA_TYPE = "message/rfc822"
MOMENT = "/views/{view_id}/contact-moments/{moment_id}"
FOLLOW_UPS = MOMENT + "/follow-ups"

Responses = dict[int | str, dict[str, Any]]
_READ: Responses = {
    403: {"description": "the view's form does not show contact moments"},
    404: {"description": "the view is not granted, or it shows none of the moment's relations"},
}
_WRITE: Responses = {
    **_READ,
    403: {
        "description": "the view is read-only for you, or its form does not show contact moments"
    },
    422: {"description": "a field is invalid (named in the answer)"},
}
_VERSIONED: Responses = {
    **_WRITE,
    412: {"description": "If-Match names an older version: read the moment again"},
    428: {"description": "If-Match is missing"},
}


async def _view(
    session: AsyncSession, user: User, view_id: uuid.UUID, *, write: bool = False
) -> views.View:
    """The view, refusing one whose form lacks contact moments or (for writes) read-only."""
    view = await views.access(session, user, view_id)
    needs_section(view, SECTION)
    if write:
        editable(view)
    return view


async def _complete(
    ctx: CardContext,
    session: AsyncSession,
    view: views.View,
    moment: dict[str, Any],
    shown: set[str],
) -> ContactMomentOut:
    """The moment with its follow-ups and the users' names, as the view shows it."""
    answer = await ctx.services.contactmoments.call(
        "GET", f"/contact-moments/{moment['contact_moment_id']}/follow-ups"
    )
    follow_ups: list[dict[str, Any]] = answer.json()
    names = await display_names(session, user_ids_of(moment, follow_ups))
    return moment_out(view, moment, shown, names, follow_ups)


async def _drop_cached_timelines(ctx: CardContext, *relation_lists: list[str]) -> None:
    """A moment's relations show it on their cards: drop those parts now (the event would)."""
    ids = {r for relation_ids in relation_lists for r in relation_ids}
    if ids:
        await cache.invalidate_many(ctx.redis, {r: {"contact_moments"} for r in ids})


# --- a relation's timeline and logging -------------------------------------------------------


class TimelinePage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "contact_moments": [
                        {
                            "contact_moment_id": "0b8f5a61-7d3e-4b2a-8c9f-1e2d3c4b5a69",
                            "version": 1,
                            "kind": "phone",
                            "direction": "in",
                            "subject": "Question about the membership fee",
                            "notes": "Sent the invoice again.",
                            "occurred_at": "2026-11-26T09:30:00Z",
                            "relation_ids": ["9d2e4f60-3a1b-4c5d-8e7f-6a5b4c3d2e1f"],
                            "logged_by": "Anna de Boer",
                            "source": "manual",
                            "email": None,
                            "deleted": False,
                            "follow_ups": None,
                            "created_at": "2026-11-26T09:31:02Z",
                            "updated_at": "2026-11-26T09:31:02Z",
                        }
                    ],
                    "next": "MjAyNi0xMS0yNlQwOTozMDowMFo",
                }
            ]
        }
    )

    contact_moments: list[ContactMomentOut]
    next: str | None = Field(default=None, description="cursor of the next (older) page")


@router.get(
    "/views/{view_id}/relations/{relation_id}/contact-moments",
    responses={
        403: _READ[403],
        404: {"description": "the view is not granted or does not show the relation"},
    },
)
async def contact_moment_timeline(
    view_id: uuid.UUID,
    relation_id: uuid.UUID,
    user: UserDep,
    request: Request,
    session: SessionDep,
    limit: Limit = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> TimelinePage:
    """The relation's contact moments, newest first, a page at a time; linked relations the
    view does not show are left out of each moment."""
    view = await _view(session, user, view_id)
    ctx = card_context(request)
    await require_visible(ctx, view, relation_id)
    params: dict[str, Any] = {"limit": limit}
    if cursor:
        params["cursor"] = cursor
    page = (
        await ctx.services.contactmoments.call(
            "GET", f"/relations/{relation_id}/contact-moments", params=params
        )
    ).json()
    moments = page["items"]
    others = [r for m in moments for r in m["relation_ids"] if r != str(relation_id)]
    shown = await shown_by(ctx, view, list(dict.fromkeys(others))) | {str(relation_id)}
    names = await display_names(session, [m["user_id"] for m in moments if m.get("user_id")])
    return TimelinePage(
        contact_moments=[moment_out(view, m, shown, names) for m in moments],
        next=page.get("next"),
    )


class MomentInput(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "kind": "phone",
                    "direction": "in",
                    "subject": "Question about the membership fee",
                    "notes": "Called back, sent the invoice again.",
                    "occurred_at": "2026-11-26T10:30:00+01:00",
                }
            ]
        },
    )

    kind: Kind
    direction: Direction
    subject: str = Field(min_length=1, max_length=300)
    notes: str = Field(default="", max_length=20_000)
    occurred_at: AwareDatetime


@router.post(
    "/views/{view_id}/relations/{relation_id}/contact-moments",
    status_code=status.HTTP_201_CREATED,
    responses={
        **_WRITE,
        404: {"description": "the view is not granted or does not show the relation"},
    },
)
async def log_contact_moment(
    view_id: uuid.UUID,
    relation_id: uuid.UUID,
    body: MomentInput,
    user: UserDep,
    request: Request,
    session: SessionDep,
    response: Response,
) -> ContactMomentOut:
    """Log a contact moment with this relation (edit rights in the view needed); answers the
    moment with its ETag."""
    view = await _view(session, user, view_id, write=True)
    ctx = card_context(request)
    await require_visible(ctx, view, relation_id)
    created = await ctx.services.contactmoments.call(
        "POST",
        "/contact-moments",
        json={**body.model_dump(mode="json"), "relation_ids": [str(relation_id)]},
        actor=user.actor,
    )
    await _drop_cached_timelines(ctx, [str(relation_id)])
    response.headers["ETag"] = etag(created.json()["version"])
    return await _complete(ctx, session, view, created.json(), {str(relation_id)})


# --- one moment -------------------------------------------------------------------------------


@router.get(
    MOMENT,
    responses={**_READ, 410: {"description": "the moment was deleted (its history remains)"}},
)
async def get_contact_moment(
    view_id: uuid.UUID,
    moment_id: uuid.UUID,
    user: UserDep,
    request: Request,
    session: SessionDep,
    response: Response,
) -> ContactMomentOut:
    """One contact moment with its follow-ups and its ETag (for If-Match): the relations,
    e-mail addresses and attachments this view may show."""
    view = await _view(session, user, view_id)
    ctx = card_context(request)
    moment, shown = await moment_in_view(ctx, view, moment_id)
    response.headers["ETag"] = etag(moment["version"])
    return await _complete(ctx, session, view, moment, shown)


class MomentPatch(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"subject": "Membership fee: paid", "notes": "Paid by bank transfer."},
                {"kind": "visit", "occurred_at": "2026-11-27T14:00:00+01:00"},
            ]
        },
    )

    kind: Kind | None = None
    direction: Direction | None = None
    subject: str | None = Field(default=None, min_length=1, max_length=300)
    notes: str | None = Field(default=None, max_length=20_000)
    occurred_at: AwareDatetime | None = None
    relation_ids: list[uuid.UUID] | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="the moment's relations in this view (each one the view shows); links to "
        "relations the view does not show stay as they are",
    )


async def _relations_after(
    ctx: CardContext,
    view: views.View,
    moment: dict[str, Any],
    shown: set[str],
    wanted: list[str],
) -> list[str]:
    """The moment's new relations: those asked for (each shown by the view) and the hidden
    ones it links now, which this view can neither see nor drop."""
    new = [r for r in wanted if r not in moment["relation_ids"]]
    outside = [r for r in new if r not in await shown_by(ctx, view, new)]
    if outside:
        raise InvalidInput.single(("body", "relation_ids"), f"not in this view: {outside}")
    hidden = [r for r in moment["relation_ids"] if r not in shown]
    return list(dict.fromkeys([*wanted, *hidden]))


@router.patch(MOMENT, responses={**_VERSIONED, 410: {"description": "the moment was deleted"}})
async def change_contact_moment(
    view_id: uuid.UUID,
    moment_id: uuid.UUID,
    user: UserDep,
    body: MomentPatch,
    version: IfMatchDep,
    request: Request,
    session: SessionDep,
    response: Response,
) -> ContactMomentOut:
    """Change a contact moment: only the fields given (If-Match with the ETag read; 412 when
    someone changed it since). Answers the moment and its new ETag."""
    view = await _view(session, user, view_id, write=True)
    ctx = card_context(request)
    moment, shown = await moment_in_view(ctx, view, moment_id)
    values = body.model_dump(mode="json", exclude_unset=True)
    wanted = set(values.get("relation_ids") or [])  # each one shown by the view (checked below)
    if values.get("relation_ids") is not None:
        values["relation_ids"] = await _relations_after(
            ctx, view, moment, shown, values["relation_ids"]
        )
    changed = (
        await ctx.services.contactmoments.call(
            "PATCH",
            f"/contact-moments/{moment_id}",
            json=values,
            actor=user.actor,
            if_match=version,
        )
    ).json()
    await _drop_cached_timelines(ctx, moment["relation_ids"], changed["relation_ids"])
    response.headers["ETag"] = etag(changed["version"])
    shown_now = {r for r in changed["relation_ids"] if r in shown or r in wanted}
    return await _complete(ctx, session, view, changed, shown_now)


@router.delete(
    MOMENT,
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**_WRITE, 412: {"description": "If-Match names an older version"}},
)
async def delete_contact_moment(
    view_id: uuid.UUID,
    moment_id: uuid.UUID,
    user: UserDep,
    version: OptionalIfMatchDep,
    request: Request,
    session: SessionDep,
) -> None:
    """Delete a contact moment: it leaves every timeline, its history stays (GET …/history).
    If-Match, when given, must name the current version. Deleting twice is harmless."""
    view = await _view(session, user, view_id, write=True)
    ctx = card_context(request)
    moment, _ = await moment_in_view(ctx, view, moment_id, deleted_too=True)
    await ctx.services.contactmoments.call(
        "DELETE", f"/contact-moments/{moment_id}", actor=user.actor, if_match=version
    )
    await _drop_cached_timelines(ctx, moment["relation_ids"])


class MomentChange(BaseModel):
    field: str
    old: Any = None
    new: Any = None


class MomentHistoryItem(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "version": 2,
                    "kind": "contactmoment.changed",
                    "reason": None,
                    "actor_kind": "user",
                    "actor_name": "Anna de Boer",
                    "occurred_at": "2026-11-26T09:40:17Z",
                    "changes": [{"field": "subject", "old": "Fee", "new": "Fee: paid"}],
                }
            ]
        }
    )

    version: int
    kind: str = Field(description="contactmoment.logged, .changed or .deleted")
    reason: str | None = Field(description="why a change nobody made by hand happened")
    actor_kind: str
    actor_name: str | None
    occurred_at: datetime
    changes: list[MomentChange]


def _change_shown(change: dict[str, Any], shown: set[str]) -> MomentChange:
    """A change as the view may show it: of its relations only those the view shows."""
    if change["field"] != "relation_ids":
        return MomentChange.model_validate(change)
    old, new = (
        [r for r in value if r in shown] if isinstance(value, list) else value
        for value in (change["old"], change["new"])
    )
    return MomentChange(field=change["field"], old=old, new=new)


@router.get(MOMENT + "/history", responses=_READ)
async def contact_moment_history(
    view_id: uuid.UUID,
    moment_id: uuid.UUID,
    user: UserDep,
    request: Request,
    session: SessionDep,
    limit: Limit = 50,
    before_version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> list[MomentHistoryItem]:
    """Who changed what in a contact moment, newest first, deleted moments too; relations the
    view does not show are left out of the changes."""
    view = await _view(session, user, view_id)
    ctx = card_context(request)
    await moment_in_view(ctx, view, moment_id, deleted_too=True)
    params: dict[str, Any] = {"limit": limit}
    if before_version is not None:
        params["before_version"] = before_version
    entries = (
        await ctx.services.contactmoments.call(
            "GET", f"/contact-moments/{moment_id}/history", params=params
        )
    ).json()
    mentioned = {
        r
        for e in entries
        for c in e["changes"]
        if c["field"] == "relation_ids"
        for r in [*(c["old"] or []), *(c["new"] or [])]
    }
    shown = await shown_by(ctx, view, sorted(mentioned))
    actors = await display_names(
        session, [e["actor"]["id"] for e in entries if e["actor"]["kind"] == "user"]
    )
    return [
        MomentHistoryItem(
            version=e["version"],
            kind=e["kind"],
            reason=e["reason"],
            actor_kind=e["actor"]["kind"],
            actor_name=actors.get(e["actor"]["id"] or "") if e["actor"]["kind"] == "user" else None,
            occurred_at=e["occurred_at"],
            changes=[_change_shown(c, shown) for c in e["changes"]],
        )
        for e in entries
    ]


# --- follow-ups ---------------------------------------------------------------------------------


async def _check_assignee(session: AsyncSession, assignee_id: uuid.UUID | None) -> None:
    if assignee_id is None:
        return
    found = await session.scalar(
        select(users.c.id).where(users.c.id == assignee_id, users.c.active)
    )
    if found is None:
        raise InvalidInput.single(("body", "assignee_id"), "no active user has this id")


class FollowUpInput(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "assignee_id": "3c9e0a52-1b7f-4d8e-a6c5-9f0e1d2c3b4a",
                    "due_on": "2026-12-10",
                    "note": "Send the brochure",
                }
            ]
        },
    )

    assignee_id: uuid.UUID = Field(description="the user who is to follow the moment up")
    due_on: date
    note: str = Field(default="", max_length=5_000)


@router.post(
    FOLLOW_UPS,
    status_code=status.HTTP_201_CREATED,
    responses={**_WRITE, 410: {"description": "the moment was deleted"}},
)
async def create_follow_up(
    view_id: uuid.UUID,
    moment_id: uuid.UUID,
    body: FollowUpInput,
    user: UserDep,
    request: Request,
    session: SessionDep,
    response: Response,
) -> FollowUpOut:
    """Ask a user to follow a contact moment up by a date; it shows among their open
    follow-ups on the dashboard until it is done. Answers it with its ETag."""
    view = await _view(session, user, view_id, write=True)
    ctx = card_context(request)
    await moment_in_view(ctx, view, moment_id)
    await _check_assignee(session, body.assignee_id)
    created = (
        await ctx.services.contactmoments.call(
            "POST",
            f"/contact-moments/{moment_id}/follow-ups",
            json=body.model_dump(mode="json"),
            actor=user.actor,
        )
    ).json()
    response.headers["ETag"] = etag(created["version"])
    return follow_up_out(created, await display_names(session, [created["assignee_id"]]))


class FollowUpPatch(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"done": True}, {"due_on": "2026-12-14"}]},
    )

    assignee_id: uuid.UUID | None = None
    due_on: date | None = None
    note: str | None = Field(default=None, max_length=5_000)
    done: bool | None = Field(default=None, description="true completes it, false reopens it")


@router.patch(
    FOLLOW_UPS + "/{follow_up_id}",
    responses={**_VERSIONED, 410: {"description": "the moment was deleted"}},
)
async def change_follow_up(
    view_id: uuid.UUID,
    moment_id: uuid.UUID,
    follow_up_id: uuid.UUID,
    user: UserDep,
    body: FollowUpPatch,
    version: IfMatchDep,
    request: Request,
    session: SessionDep,
    response: Response,
) -> FollowUpOut:
    """Change, complete (``done: true``) or reopen a follow-up (If-Match with its ETag; 412
    when someone changed it since). Answers it with its new ETag."""
    view = await _view(session, user, view_id, write=True)
    ctx = card_context(request)
    await moment_in_view(ctx, view, moment_id)
    await _check_assignee(session, body.assignee_id)
    contactmoments = ctx.services.contactmoments
    try:
        current = (await contactmoments.call("GET", f"/follow-ups/{follow_up_id}")).json()
    except Upstream as error:
        if error.status_code == 404:
            raise NotFound(f"follow-up {follow_up_id} does not exist") from None
        raise
    if current["contact_moment_id"] != str(moment_id):
        raise NotFound(f"follow-up {follow_up_id} does not exist")
    changed = (
        await contactmoments.call(
            "PATCH",
            f"/follow-ups/{follow_up_id}",
            json=body.model_dump(mode="json", exclude_unset=True),
            actor=user.actor,
            if_match=version,
        )
    ).json()
    response.headers["ETag"] = etag(changed["version"])
    return follow_up_out(changed, await display_names(session, [changed["assignee_id"]]))


class MyFollowUp(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "follow_up_id": "6f1c2b8e-2f5d-4c1e-9a57-0d6b7a3c9e21",
                    "version": 1,
                    "contact_moment_id": "0b8f5a61-7d3e-4b2a-8c9f-1e2d3c4b5a69",
                    "due_on": "2026-12-10",
                    "note": "Send the brochure",
                    "subject": "Asked about legacies",
                    "kind": "phone",
                    "occurred_at": "2026-12-03T10:15:00Z",
                    "relations": [
                        {
                            "relation_id": "9d2e4f60-3a1b-4c5d-8e7f-6a5b4c3d2e1f",
                            "view_id": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
                            "display_name": "Jan de Vries",
                        }
                    ],
                }
            ]
        }
    )

    follow_up_id: uuid.UUID
    version: int
    contact_moment_id: uuid.UUID
    due_on: date
    note: str
    subject: str
    kind: Kind
    occurred_at: datetime
    relations: list[RelationRef] = Field(
        description="the moment's relations the caller's views show, each with a view to open "
        "it in and its name as that view shows it"
    )


OPEN_FOLLOW_UPS_READ = 500
"""Open follow-ups read from the service per dashboard call, before those of relations the
caller does not see are left out."""


@router.get("/dashboard/follow-ups", tags=["dashboard"])
async def my_open_follow_ups(
    user: UserDep,
    request: Request,
    snapshot: SnapshotDep,
    limit: Limit = 50,
    due_before: Annotated[Day | None, Query(description="only those due before this day")] = None,
) -> list[MyFollowUp]:
    """The caller's open follow-ups, soonest due first, each with the moment's relations as
    the caller's views (those showing contact moments) show them. A follow-up of relations
    none of those views shows is left out."""
    params: dict[str, Any] = {"assignee_id": str(user.id), "limit": OPEN_FOLLOW_UPS_READ}
    if due_before is not None:
        params["due_before"] = due_before.isoformat()
    ctx = card_context(request)
    found = (await ctx.services.contactmoments.call("GET", "/follow-ups", params=params)).json()
    named = await named_in_views(
        ctx, snapshot.views_of(user), [r for f in found for r in f["relation_ids"]]
    )
    out = []
    for follow_up in found:
        relations = [named[r] for r in follow_up["relation_ids"] if r in named]
        if relations:
            out.append(MyFollowUp(**follow_up, relations=relations))
    return out[:limit]


# --- e-mail ingestion ---------------------------------------------------------------------------


class IngestedMail(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "created": True,
                    "contact_moment_id": "0b8f5a61-7d3e-4b2a-8c9f-1e2d3c4b5a69",
                    "version": 1,
                    "subject": "Re: your membership",
                    "direction": "in",
                    "occurred_at": "2026-12-03T10:15:00Z",
                    "attachments": [
                        {"filename": "form.pdf", "content_type": "application/pdf", "size": 48213}
                    ],
                    "relations": [
                        {
                            "relation_id": "9d2e4f60-3a1b-4c5d-8e7f-6a5b4c3d2e1f",
                            "view_id": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
                            "display_name": "Jan de Vries",
                        }
                    ],
                }
            ]
        }
    )

    created: bool = Field(description="false when this Message-ID was posted before")
    contact_moment_id: uuid.UUID
    version: int
    subject: str
    direction: Direction
    occurred_at: datetime
    attachments: list[Attachment]
    relations: list[RelationRef] = Field(
        description="the relations it was linked to that the caller's views show"
    )


async def _read_mail(request: Request, limit: int) -> bytes:
    """The raw message, refused (413) as soon as it is over the limit."""
    declared = request.headers.get("content-length", "")
    too_large = f"the message is larger than {limit} bytes"
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(too_large, limit_bytes=limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(too_large, limit_bytes=limit)
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    MAIL_PATH,
    tags=["e-mail"],
    status_code=status.HTTP_201_CREATED,
    openapi_extra={
        **scope(Scope.MAIL_INGEST),
        "requestBody": {
            "required": True,
            "content": {
                MAIL_MEDIA_TYPE: {
                    "schema": {"type": "string", "format": "binary"},
                    "example": "Message-ID: <a1@example.org>\r\nFrom: Jan <jan@example.org>\r\n"
                    "To: info@our-association.example\r\nSubject: Question\r\n\r\nHello!\r\n",
                }
            },
        },
    },
    responses={
        200: {"description": "this Message-ID was posted before: the moment made then"},
        201: {"description": "a new contact moment"},
        403: {"description": "an API key without the scope mail.ingest"},
        413: {"description": "the message is over the size limit (10 MB by default)"},
        415: {"description": "the body is not message/rfc822"},
        422: {"description": "a malformed message, or no address of a known relation in it"},
    },
)
async def ingest_mail(
    user: UserDep, request: Request, response: Response, snapshot: SnapshotDep
) -> IngestedMail:
    """Log a raw e-mail (RFC 822) from a mail-client add-in as a contact moment: linked to
    every relation whose address is in From, To or Cc; direction in when a relation sent it;
    attachments recorded by name, type and size. Idempotent on Message-ID: posting the same
    mail again answers the same moment with 200. API keys need the scope ``mail.ingest``."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != MAIL_MEDIA_TYPE:
        raise UnsupportedMediaType(f"send the raw e-mail as {MAIL_MEDIA_TYPE}")
    settings = request.app.state.settings
    raw = await _read_mail(request, settings.max_mail_bytes)
    ctx = card_context(request)
    answer = await ctx.services.contactmoments.call(
        "POST",
        "/contact-moments/email",
        content=raw,
        headers={"Content-Type": MAIL_MEDIA_TYPE},
        actor=user.actor,
        timeout=settings.mail_timeout,
    )
    moment = answer.json()["contact_moment"]
    relation_ids: list[str] = moment["relation_ids"]
    named, _ = await asyncio.gather(
        named_in_views(ctx, snapshot.views_of(user), relation_ids),
        _drop_cached_timelines(ctx, relation_ids),
    )
    response.status_code = answer.status
    return IngestedMail(
        created=answer.status == status.HTTP_201_CREATED,
        contact_moment_id=moment["contact_moment_id"],
        version=moment["version"],
        subject=moment["subject"],
        direction=moment["direction"],
        occurred_at=moment["occurred_at"],
        attachments=[
            Attachment.model_validate(a) for a in (moment["email"] or {}).get("attachments", [])
        ],
        relations=[named[r] for r in relation_ids if r in named],
    )
