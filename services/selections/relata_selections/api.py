"""HTTP API of the selections service (internal: the gateway and other modules call it)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from relata_common.db import transaction
from relata_common.events import Actor, SelectionSource
from relata_common.web import ActorDep, IfMatchDep, SessionDep, with_etag
from relata_selections import export, refresh, selections
from relata_selections.directory import LOOKUP_MAX, RelationsDirectory
from relata_selections.refresh import RefreshOut
from relata_selections.selections import MembersPage, SelectionOut, SelectionPatch
from relata_selections.sources import ListsSource

router = APIRouter(prefix="/selections", tags=["selections"])
Limit = Annotated[int, Query(ge=1, le=1000)]


class SourceIn(BaseModel):
    """``list`` (list_id), ``filter`` (a filter tree as the lists service takes it) or
    ``manual`` (relation_ids)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["list", "filter", "manual"]
    list_id: uuid.UUID | None = None
    filter: dict[str, Any] | None = None
    relation_ids: list[uuid.UUID] = Field(default_factory=list, max_length=LOOKUP_MAX)

    @model_validator(mode="after")
    def _one_source(self) -> SourceIn:
        given = {
            "list": self.list_id is not None,
            "filter": self.filter is not None,
            "manual": bool(self.relation_ids),
        }
        if self.kind != "manual" and not given[self.kind]:
            raise ValueError(
                f"a {self.kind} source needs its {self.kind.replace('list', 'list_id')}"
            )
        if any(v for k, v in given.items() if k != self.kind):
            raise ValueError(f"a {self.kind} source takes only its own field")
        return self

    def source(self) -> SelectionSource:
        return SelectionSource(kind=self.kind, list_id=self.list_id, filter=self.filter)


class SelectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    source: SourceIn
    daily_refresh: bool = False
    daily_at: time | None = Field(
        default=None, description="local time of day (Europe/Amsterdam) of the daily refresh"
    )


class RelationIds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    relation_ids: list[uuid.UUID] = Field(min_length=1, max_length=LOOKUP_MAX)


def _lists(request: Request) -> ListsSource:
    return request.app.state.lists


def _relations(request: Request) -> RelationsDirectory:
    return request.app.state.relations


def _cap(request: Request) -> int:
    return request.app.state.settings.event_id_cap


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_selection(
    body: SelectionCreate, request: Request, actor: ActorDep, response: Response
) -> SelectionOut:
    """Create a selection from a relation list, a filter (evaluated now) or by hand; its
    members are frozen at once."""
    source = body.source.source()
    ids: list[Any]
    if source.kind == "manual":
        ids = list(dict.fromkeys(body.source.relation_ids))
        await _relations(request).check_active(ids, loc=("body", "source", "relation_ids"))
    else:
        ids = await _lists(request).relation_ids(source)
    async with transaction(request.app.state.sessions) as session:
        created = await selections.create_selection(
            session,
            name=body.name,
            source=source,
            daily_refresh=body.daily_refresh or body.daily_at is not None,
            daily_at=body.daily_at,
            relation_ids=ids,
            actor=actor,
        )
    response.headers["Location"] = f"/selections/{created.selection_id}"
    return with_etag(response, created)


@router.get("")
async def all_selections(session: SessionDep) -> list[SelectionOut]:
    """Every selection, by name."""
    return await selections.all_selections(session)


@router.get("/{selection_id}")
async def get_selection(
    selection_id: uuid.UUID, session: SessionDep, response: Response
) -> SelectionOut:
    """One selection with its member count and ETag."""
    return with_etag(response, await selections.get_selection(session, selection_id))


@router.patch("/{selection_id}")
async def change_selection(
    selection_id: uuid.UUID,
    body: SelectionPatch,
    session: SessionDep,
    actor: ActorDep,
    version: IfMatchDep,
    response: Response,
) -> SelectionOut:
    """Rename a selection, switch its daily refresh or set the time of day it runs from
    (If-Match)."""
    changed = await selections.change_selection(
        session, selection_id=selection_id, patch=body, expected_version=version, actor=actor
    )
    return with_etag(response, changed)


@router.delete("/{selection_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_selection(
    selection_id: uuid.UUID, session: SessionDep, actor: ActorDep, version: IfMatchDep
) -> None:
    """Delete a selection with its members and history (If-Match)."""
    await selections.delete_selection(
        session, selection_id=selection_id, expected_version=version, actor=actor
    )


@router.get("/{selection_id}/members")
async def members(
    selection_id: uuid.UUID, session: SessionDep, limit: Limit = 100, cursor: str | None = None
) -> MembersPage:
    """Members in relation id order, a page at a time (``next_cursor`` for the next)."""
    return await selections.members_page(
        session, selection_id=selection_id, limit=limit, cursor=cursor
    )


@router.post("/{selection_id}/members")
async def add_members(
    selection_id: uuid.UUID,
    body: RelationIds,
    request: Request,
    actor: ActorDep,
    version: IfMatchDep,
    response: Response,
) -> SelectionOut:
    """Add relations by hand (If-Match); they stay in on refreshes."""
    await _relations(request).check_active(body.relation_ids)
    async with transaction(request.app.state.sessions) as session:
        changed = await selections.add_by_hand(
            session,
            selection_id=selection_id,
            relation_ids=body.relation_ids,
            expected_version=version,
            actor=actor,
            cap=_cap(request),
        )
    return with_etag(response, changed)


@router.post("/{selection_id}/members/removal")
async def remove_members(
    selection_id: uuid.UUID,
    body: RelationIds,
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    version: IfMatchDep,
    response: Response,
) -> SelectionOut:
    """Remove relations by hand (If-Match); they stay out on refreshes until added back."""
    changed = await selections.remove_by_hand(
        session,
        selection_id=selection_id,
        relation_ids=body.relation_ids,
        expected_version=version,
        actor=actor,
        cap=_cap(request),
    )
    return with_etag(response, changed)


@router.get("/{selection_id}/exclusions")
async def exclusions(selection_id: uuid.UUID, session: SessionDep) -> list[selections.Exclusion]:
    """The relations removed by hand, which refreshes keep out."""
    return await selections.exclusions(session, selection_id=selection_id)


async def _refresh(
    request: Request, selection_id: uuid.UUID, trigger: refresh.Trigger, actor: Actor
) -> RefreshOut:
    return await refresh.refresh_now(
        request.app.state.sessions,
        _lists(request),
        selection_id=selection_id,
        trigger=trigger,
        actor=actor,
        cap=_cap(request),
        today=selections.today(),
    )


@router.post("/{selection_id}/refresh")
async def refresh_selection(
    selection_id: uuid.UUID, request: Request, actor: ActorDep, response: Response
) -> RefreshOut:
    """Refresh from the source now, recording who was added and removed (409 for a hand-made
    selection)."""
    done = await _refresh(request, selection_id, "hand", actor)
    async with transaction(request.app.state.sessions) as session:
        current = await selections.get_selection(session, selection_id)
    with_etag(response, current)
    return done


@router.get("/{selection_id}/refreshes")
async def refresh_history(selection_id: uuid.UUID, session: SessionDep) -> list[RefreshOut]:
    """Every refresh, newest first, with how many were added and removed."""
    return await refresh.refresh_history(session, selection_id=selection_id)


@router.get("/{selection_id}/refreshes/{refresh_id}/changes")
async def refresh_changes(
    selection_id: uuid.UUID,
    refresh_id: uuid.UUID,
    session: SessionDep,
    change: Literal["added", "removed"],
    limit: Limit = 1000,
    cursor: uuid.UUID | None = None,
) -> refresh.ChangesPage:
    """Who one refresh added or removed, a page at a time."""
    return await refresh.refresh_changes_page(
        session,
        selection_id=selection_id,
        refresh_id=refresh_id,
        change=change,
        limit=limit,
        after=cursor,
    )


class MailingMembers(MembersPage):
    refresh: RefreshOut | None = Field(
        description="the refresh made first; null for a hand-made selection"
    )


@router.post("/{selection_id}/mailing")
async def refresh_then_members(
    selection_id: uuid.UUID, request: Request, actor: ActorDep, limit: Limit = 1000
) -> MailingMembers:
    """For a mailing: refresh from the source first (so whoever left the list or filter, e.g.
    by unsubscribing, is out), then the first page of members; page on with GET members."""
    async with transaction(request.app.state.sessions) as session:
        row = await selections.get_row(session, selection_id)
    done = None
    if row["source_kind"] != "manual":
        done = await _refresh(request, selection_id, "mailing", actor)
    async with transaction(request.app.state.sessions) as session:
        page = await selections.members_page(
            session, selection_id=selection_id, limit=limit, cursor=None
        )
    return MailingMembers(**page.model_dump(), refresh=done)


@router.get(
    "/{selection_id}/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "the members as CSV"}},
)
async def export_csv(
    selection_id: uuid.UUID,
    request: Request,
    fields: Annotated[
        str | None,
        Query(
            description="comma-separated: "
            + ", ".join(export.EXPORT_FIELDS)
            + ", custom.<key>; default "
            + ",".join(export.DEFAULT_FIELDS)
        ),
    ] = None,
) -> StreamingResponse:
    """The members as CSV (UTF-8, RFC 4180) with the fields asked for, streamed."""
    names = export.parse_fields(fields)
    sessions = request.app.state.sessions
    async with transaction(sessions) as session:
        await selections.get_row(session, selection_id)
    stream = export.csv_rows(
        sessions,
        _relations(request),
        selection_id=selection_id,
        fields=names,
        concurrency=request.app.state.settings.export_concurrency,
    )
    head = await anext(stream)

    async def body() -> AsyncIterator[bytes]:
        try:
            yield head
            async for chunk in stream:
                yield chunk
        finally:
            await stream.aclose()

    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="selection-{selection_id}.csv"'},
    )


ROUTERS = (router,)
