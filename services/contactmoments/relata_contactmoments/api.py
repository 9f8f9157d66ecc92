"""HTTP API of the contact moments service (internal: the gateway and other services call it)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, Field

from relata_common.db import transaction
from relata_common.errors import UnsupportedMediaType
from relata_common.web import (
    ActorDep,
    IfMatchDep,
    OptionalIfMatchDep,
    ReadingSessionDep,
    SessionDep,
    with_etag,
)
from relata_contactmoments import followups, history, ingestion, moments, timeline
from relata_contactmoments.schemas import (
    ContactMoment,
    FollowUp,
    FollowUpInput,
    FollowUpPatch,
    Kind,
    MomentInput,
    MomentPatch,
    OpenFollowUp,
)

EMAIL_MEDIA_TYPE = "message/rfc822"

moments_router = APIRouter(prefix="/contact-moments", tags=["contact moments"])
timeline_router = APIRouter(tags=["timeline"])
follow_ups_router = APIRouter(tags=["follow-ups"])


class IngestedEmail(BaseModel):
    created: bool = Field(description="false when this Message-ID was ingested before")
    contact_moment: ContactMoment
    unknown_addresses: list[str] = Field(
        description="addresses in From/To/Cc that belong to no known relation (not linked)"
    )


@moments_router.post("", status_code=status.HTTP_201_CREATED)
async def log_moment(
    body: MomentInput, session: SessionDep, actor: ActorDep, response: Response
) -> ContactMoment:
    """Log a contact moment with one or more relations; the actor is who logged it."""
    record, _ = await moments.log_moment(session, data=body, actor=actor)
    response.headers["Location"] = f"/contact-moments/{record.id}"
    return with_etag(response, record.out())


@moments_router.post(
    "/email",
    description=ingestion.__doc__,
    responses={
        200: {"description": "this Message-ID was ingested before: the moment made then"},
        201: {"description": "a new contact moment"},
        413: {"description": "the message is over the size limit"},
        415: {"description": "the body is not message/rfc822"},
        422: {"description": "malformed message, or no address of a known relation"},
    },
    openapi_extra={
        "requestBody": {
            "content": {EMAIL_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
            "required": True,
        }
    },
)
async def ingest_email(request: Request, actor: ActorDep, response: Response) -> IngestedEmail:
    """Log a raw e-mail (From/To/Cc matched to relations); idempotent on Message-ID."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != EMAIL_MEDIA_TYPE:
        raise UnsupportedMediaType(f"send the raw e-mail as {EMAIL_MEDIA_TYPE}")
    limit = request.app.state.settings.max_email_bytes
    raw = await _read_limited(request, limit)
    # The transaction starts after the upload: a slow client holds no database connection.
    async with transaction(request.app.state.sessions) as session:
        ingested = await ingestion.ingest_email(session, raw=raw, actor=actor)
    response.status_code = status.HTTP_201_CREATED if ingested.created else status.HTTP_200_OK
    response.headers["Location"] = f"/contact-moments/{ingested.moment.id}"
    return IngestedEmail(
        created=ingested.created,
        contact_moment=with_etag(response, ingested.moment.out()),
        unknown_addresses=ingested.unknown_addresses,
    )


async def _read_limited(request: Request, limit: int) -> bytes:
    ingestion.check_size(request.headers.get("content-length"), limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ingestion.MessageTooLarge(ingestion.too_large_message(limit), limit_bytes=limit)
        chunks.append(chunk)
    return b"".join(chunks)


@moments_router.get("/{moment_id}")
async def get_moment(
    moment_id: uuid.UUID,
    session: ReadingSessionDep,
    response: Response,
    include_deleted: Annotated[
        bool, Query(description="answer a deleted moment too (deleted: true) instead of 410")
    ] = False,
) -> ContactMoment:
    """One contact moment with its ETag (410 once deleted, unless include_deleted)."""
    if include_deleted:
        record = await moments.get_record(session, moment_id)
    else:
        record = await moments.get_live_record(session, moment_id)
    return with_etag(response, record.out())


@moments_router.patch("/{moment_id}")
async def change_moment(
    moment_id: uuid.UUID,
    body: MomentPatch,
    session: SessionDep,
    actor: ActorDep,
    version: IfMatchDep,
    response: Response,
) -> ContactMoment:
    """Change a contact moment. Needs If-Match with the ETag read (412 when stale)."""
    record = await moments.change_moment(
        session, moment_id=moment_id, expected_version=version, patch=body, actor=actor
    )
    return with_etag(response, record.out())


@moments_router.delete("/{moment_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_moment(
    moment_id: uuid.UUID,
    session: SessionDep,
    actor: ActorDep,
    version: OptionalIfMatchDep,
) -> None:
    """Delete a contact moment (its history stays); If-Match, when given, must be current."""
    await moments.delete_moment(session, moment_id=moment_id, expected_version=version, actor=actor)


@moments_router.get("/{moment_id}/history")
async def moment_history(
    moment_id: uuid.UUID,
    session: ReadingSessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before_version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,  # versions are int4
) -> list[history.HistoryEntry]:
    """Who changed which field from what to what, newest first (deleted moments too)."""
    return await history.moment_history(
        session, moment_id=moment_id, limit=limit, before_version=before_version
    )


@timeline_router.get("/relations/{relation_id}/contact-moments")
async def relation_timeline(
    relation_id: uuid.UUID,
    session: ReadingSessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200, description="`next` of a page")] = None,
    kind: Annotated[list[Kind] | None, Query(description="only these kinds")] = None,
    period_from: Annotated[
        datetime | None, Query(alias="from", description="inclusive; UTC without a zone")
    ] = None,
    period_to: Annotated[
        datetime | None, Query(alias="to", description="exclusive; UTC without a zone")
    ] = None,
) -> timeline.TimelinePage:
    """A relation's contact moments, newest first, a page at a time (follow `next`)."""
    return await timeline.timeline(
        session,
        relation_id=relation_id,
        limit=limit,
        cursor=cursor,
        kinds=kind or (),
        period_from=period_from,
        period_to=period_to,
    )


@follow_ups_router.post(
    "/contact-moments/{moment_id}/follow-ups", status_code=status.HTTP_201_CREATED
)
async def create_follow_up(
    moment_id: uuid.UUID,
    body: FollowUpInput,
    session: SessionDep,
    actor: ActorDep,
    response: Response,
) -> FollowUp:
    """Ask someone to follow a live contact moment up by a date (410 for a deleted moment)."""
    record = await followups.create_follow_up(session, moment_id=moment_id, data=body, actor=actor)
    response.headers["Location"] = f"/follow-ups/{record.id}"
    return with_etag(response, record.out())


@follow_ups_router.get("/contact-moments/{moment_id}/follow-ups")
async def moment_follow_ups(moment_id: uuid.UUID, session: ReadingSessionDep) -> list[FollowUp]:
    """A moment's follow-ups, open and done, soonest due first."""
    return [record.out() for record in await followups.follow_ups_of(session, moment_id)]


@follow_ups_router.get("/follow-ups")
async def open_follow_ups(
    session: ReadingSessionDep,
    assignee_id: Annotated[str, Query(min_length=1, max_length=200)],
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    due_before: Annotated[date | None, Query(description="only those due before this day")] = None,
) -> list[OpenFollowUp]:
    """The assignee's open follow-ups of live moments, soonest due first."""
    return await followups.open_follow_ups(
        session, assignee_id=assignee_id, limit=limit, due_before=due_before
    )


@follow_ups_router.get("/follow-ups/{follow_up_id}")
async def get_follow_up(
    follow_up_id: uuid.UUID, session: ReadingSessionDep, response: Response
) -> FollowUp:
    """One follow-up with its ETag."""
    return with_etag(response, (await followups.get_follow_up(session, follow_up_id)).out())


@follow_ups_router.patch("/follow-ups/{follow_up_id}")
async def change_follow_up(
    follow_up_id: uuid.UUID,
    body: FollowUpPatch,
    session: SessionDep,
    actor: ActorDep,
    version: IfMatchDep,
    response: Response,
) -> FollowUp:
    """Change, complete (done: true) or reopen a follow-up; If-Match needed (412 when stale)."""
    record = await followups.change_follow_up(
        session, follow_up_id=follow_up_id, expected_version=version, patch=body, actor=actor
    )
    return with_etag(response, record.out())


ROUTERS = (moments_router, timeline_router, follow_ups_router)
