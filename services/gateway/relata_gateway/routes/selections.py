"""Selections in a view: frozen from one of the view's lists (kept by the selections service),
or picked by hand from a list's table (some of its rows, as the source of a bulk edit),
refreshed with who was added and removed (by hand, daily at a chosen time, or just before a
mailing), exported as CSV, renamed and deleted. Changing one needs edit rights in the view and
the right ``selections.manage``.

The gateway records which view a selection was made in; only that view shows it. Members are
named as the view's form names them, relations that left the view since are counted but not
named, and the CSV has only columns the form shows and rows the view shows.
"""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from datetime import datetime, time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relata_common.client import Upstream
from relata_common.errors import InvalidInput, NotFound, ServiceUnavailable
from relata_common.web import OptionalIfMatchDep
from relata_gateway import labels, pages, views
from relata_gateway.cards import CardContext, visible_ids
from relata_gateway.deps import Limit, SessionDep, UserDep, card_context, editable, needs
from relata_gateway.models import view_selections
from relata_gateway.rights import Right
from relata_gateway.security import User

router = APIRouter(prefix="/views/{view_id}/selections", tags=["selections"])
Manager = Annotated[User, needs(Right.SELECTIONS_MANAGE)]
ANSWERS: dict[int | str, dict[str, Any]] = {
    403: {"description": "the view is read-only for you, or your role lacks selections.manage"},
    404: {"description": "no such view granted to you, or no such selection in it"},
}
CHANGES_SHOWN = 200
VISIBILITY_CHUNK = 100

EXPORT_SOURCES: dict[str, str] = {
    "relation_number": "relation_number",
    "first_name": "first_name",
    "initials": "initials",
    "infix": "infix",
    "last_name": "last_name",
    "organisation_name": "organisation_name",
    "salutation": "salutation",
    "gender": "gender",
    "birth_date": "birth_date",
    "coc_number": "coc_number",
    "email": "emails",
    "phone": "phones",
    "street": "addresses",
    "house_number": "addresses",
    "postal_code": "addresses",
    "city": "addresses",
    "country": "addresses",
}
"""Export columns of the selections service and the form field each one reveals."""
ALWAYS_EXPORTED = ("relation_id", "relation_type")
PICKED_MAX = 200
EXPORT_LABELS: dict[str, dict[str, str]] = {
    "relation_id": {"nl": "Relatie-id", "en": "Relation id"},
    "relation_type": {"nl": "Soort relatie", "en": "Relation type"},
    "email": {"nl": "E-mailadres", "en": "E-mail address"},
    "phone": {"nl": "Telefoonnummer", "en": "Phone number"},
    "street": {"nl": "Straat", "en": "Street"},
    "house_number": {"nl": "Huisnummer", "en": "House number"},
    "postal_code": {"nl": "Postcode", "en": "Postal code"},
    "city": {"nl": "Plaats", "en": "City"},
    "country": {"nl": "Land", "en": "Country"},
}
"""Headers of export columns that are not a form field of their own (an address's parts)."""


class SelectionInput(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "Newsletter December", "list_id": "0b0e4b4e-8c8a-4c53-9f0e-6d1f0c7d1a11"}
            ]
        },
    )

    name: str = Field(min_length=1, max_length=200)
    list_id: uuid.UUID = Field(description="one of the view's lists")
    relation_ids: list[uuid.UUID] | None = Field(
        default=None,
        min_length=1,
        max_length=PICKED_MAX,
        description="only these relations (picked from the list's table, which the view must "
        "show): a selection made by hand, which a refresh leaves as it is",
    )


class ViewSelection(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "selection_id": "2a3b4c5d-6e7f-4809-9a1b-2c3d4e5f6a7b",
                    "name": "Newsletter December",
                    "list_id": "7e1d2c3b-4a5f-4e6d-9c8b-0a1f2e3d4c5b",
                    "list_name": "Members in Utrecht",
                    "member_count": 412,
                    "created_at": "2026-12-01T08:00:00Z",
                    "refreshed_at": "2026-12-07T06:30:00Z",
                }
            ]
        }
    )

    selection_id: uuid.UUID
    name: str
    list_id: uuid.UUID
    list_name: str | None
    member_count: int | None = Field(description="null when the selections service is down")
    created_at: datetime
    refreshed_at: datetime | None = None
    daily_refresh: bool | None = Field(default=None, description="refreshed every day")
    daily_at: time | None = Field(
        default=None, description="local time of day (Europe/Amsterdam) of the daily refresh"
    )


class Refresh(BaseModel):
    refresh_id: uuid.UUID
    at: datetime
    trigger: str
    source_count: int
    added_count: int
    removed_count: int


class NamedRelation(BaseModel):
    relation_id: uuid.UUID | None = Field(
        description="null for a relation the view no longer shows"
    )
    display_name: str | None


class RefreshChanges(Refresh):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "refresh_id": "a1b2c3d4-e5f6-4789-9abc-def012345678",
                    "at": "2026-12-07T06:30:00Z",
                    "trigger": "daily",
                    "source_count": 415,
                    "added_count": 1,
                    "removed_count": 1,
                    "added": [
                        {
                            "relation_id": "0b6f3c3e-8f7e-4d47-9a43-3c1f0f8f0a11",
                            "display_name": "Sanne Bakker",
                        }
                    ],
                    "removed": [{"relation_id": None, "display_name": None}],
                }
            ]
        }
    )

    added: list[NamedRelation]
    removed: list[NamedRelation]
    not_shown: int = Field(description="changed relations the view no longer shows (not named)")


class SelectionDetail(ViewSelection):
    refreshes: list[Refresh]
    export_fields: list[str] = Field(description="columns the CSV export may have in this view")


class MembersPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "member_count": 412,
                    "relations": [
                        {
                            "relation_id": "0b6f3c3e-8f7e-4d47-9a43-3c1f0f8f0a11",
                            "display_name": "Sanne Bakker",
                        }
                    ],
                    "next": "c2Fubm",
                }
            ]
        }
    )

    member_count: int
    relations: list[NamedRelation]
    next: str | None = None


async def _row(session: AsyncSession, view: views.View, selection_id: uuid.UUID) -> Any:
    row = (
        (
            await session.execute(
                select(view_selections).where(
                    view_selections.c.selection_id == selection_id,
                    view_selections.c.view_id == view.id,
                )
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"selection {selection_id} does not exist")
    return row


async def _list_names(session: AsyncSession, view: views.View) -> dict[uuid.UUID, str]:
    return {ref.list_id: ref.name for ref in await views.view_lists_of(session, view.id)}


def _out(row: Any, service: dict[str, Any] | None, list_names: dict[uuid.UUID, str]) -> dict:
    return {
        "selection_id": row["selection_id"],
        "name": row["name"],
        "list_id": row["list_id"],
        "list_name": list_names.get(row["list_id"]),
        "member_count": service.get("member_count") if service else None,
        "created_at": row["created_at"],
        "refreshed_at": service.get("refreshed_at") if service else None,
        "daily_refresh": service.get("daily_refresh") if service else None,
        "daily_at": service.get("daily_at") if service else None,
    }


@router.get("")
async def view_selections_list(
    view_id: uuid.UUID, user: UserDep, request: Request, session: SessionDep
) -> list[ViewSelection]:
    """The selections made in this view, newest first."""
    view = await views.access(session, user, view_id)
    rows = (
        (
            await session.execute(
                select(view_selections)
                .where(view_selections.c.view_id == view.id)
                .order_by(view_selections.c.created_at.desc())
            )
        )
        .mappings()
        .all()
    )
    service = request.app.state.services.selections

    async def one(selection_id: uuid.UUID) -> dict[str, Any] | None:
        try:
            return (await service.call("GET", f"/selections/{selection_id}")).json()
        except (ServiceUnavailable, Upstream):  # lost or not given now: listed without
            return None

    found = await asyncio.gather(*(one(row["selection_id"]) for row in rows))
    names = await _list_names(session, view)
    return [
        ViewSelection.model_validate(_out(row, s, names))
        for row, s in zip(rows, found, strict=True)
    ]


@router.post("", status_code=status.HTTP_201_CREATED, responses=ANSWERS)
async def create_selection(
    view_id: uuid.UUID, body: SelectionInput, user: Manager, request: Request, session: SessionDep
) -> ViewSelection:
    """Freeze the members of one of the view's lists as a selection (edit rights needed)."""
    view = await views.access(session, user, view_id)
    editable(view)
    names = await _list_names(session, view)
    if body.list_id not in names:
        raise InvalidInput.single(("body", "list_id"), "not a list of this view")
    source: dict[str, Any] = {"kind": "list", "list_id": str(body.list_id)}
    if body.relation_ids is not None:
        picked = list(dict.fromkeys(body.relation_ids))
        # Only relations the view shows: a hand-made selection must not reach beyond it.
        shown = await visible_ids(card_context(request), view, picked)
        outside = [str(i) for i in picked if str(i) not in shown]
        if outside:
            raise InvalidInput.single(
                ("body", "relation_ids"), f"not relations of this view: {outside}"
            )
        source = {"kind": "manual", "relation_ids": [str(i) for i in picked]}
    created = (
        await request.app.state.services.selections.call(
            "POST",
            "/selections",
            json={"name": f"{view.name}: {body.name}", "source": source},
            actor=user.actor,
            timeout=60.0,
        )
    ).json()
    row = {
        "selection_id": uuid.UUID(created["selection_id"]),
        "view_id": view.id,
        "name": body.name,
        "list_id": body.list_id,
        "created_by": user.id,
    }
    created_at = await session.scalar(
        view_selections.insert().values(**row).returning(view_selections.c.created_at)
    )
    return ViewSelection.model_validate(_out({**row, "created_at": created_at}, created, names))


def export_fields(view: views.View) -> list[str]:
    """CSV columns this view may export: the ones whose form field it shows."""
    custom = sorted(name for name in view.form.fields if name.startswith("custom."))
    shown = [name for name, source in EXPORT_SOURCES.items() if view.form.shows(source)]
    return [*ALWAYS_EXPORTED, *shown, *custom]


@router.get("/{selection_id}")
async def selection_detail(
    view_id: uuid.UUID,
    selection_id: uuid.UUID,
    user: UserDep,
    request: Request,
    session: SessionDep,
) -> SelectionDetail:
    """A selection with its refresh history (newest first)."""
    view = await views.access(session, user, view_id)
    row = await _row(session, view, selection_id)
    service = request.app.state.services.selections
    current, history = await asyncio.gather(
        service.call("GET", f"/selections/{selection_id}"),
        service.call("GET", f"/selections/{selection_id}/refreshes"),
    )
    return SelectionDetail(
        **_out(row, current.json(), await _list_names(session, view)),
        refreshes=[Refresh.model_validate(r) for r in history.json()],
        export_fields=export_fields(view),
    )


async def _named(
    ctx: CardContext, view: views.View, ids: list[str]
) -> tuple[list[NamedRelation], int]:
    """The relations the view shows, named by its form, and how many others there were."""
    shown: set[str] = set()
    for start in range(0, len(ids), VISIBILITY_CHUNK):
        chunk = [uuid.UUID(i) for i in ids[start : start + VISIBILITY_CHUNK]]
        shown |= await visible_ids(ctx, view, chunk)
    kept = [i for i in ids if i in shown]
    names = await pages.names(ctx, view, [{"relation_id": i} for i in kept])
    return [NamedRelation(relation_id=uuid.UUID(i), display_name=names[i]) for i in kept], len(
        ids
    ) - len(kept)


@router.get("/{selection_id}/members")
async def selection_members(
    view_id: uuid.UUID,
    selection_id: uuid.UUID,
    user: UserDep,
    request: Request,
    session: SessionDep,
    limit: Limit = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> MembersPage:
    """Members a page at a time (relations the view no longer shows are left out)."""
    view = await views.access(session, user, view_id)
    await _row(session, view, selection_id)
    params: dict[str, Any] = {"limit": limit}
    if cursor:
        params["cursor"] = cursor
    page = (
        await request.app.state.services.selections.call(
            "GET", f"/selections/{selection_id}/members", params=params
        )
    ).json()
    named, _ = await _named(
        card_context(request), view, [m["relation_id"] for m in page["members"]]
    )
    return MembersPage(
        member_count=page["member_count"], relations=named, next=page.get("next_cursor")
    )


async def _changes(
    request: Request, view: views.View, selection_id: uuid.UUID, refresh: dict[str, Any]
) -> RefreshChanges:
    service = request.app.state.services.selections
    path = f"/selections/{selection_id}/refreshes/{refresh['refresh_id']}/changes"

    async def ids(change: Literal["added", "removed"]) -> list[str]:
        page = (
            await service.call("GET", path, params={"change": change, "limit": CHANGES_SHOWN})
        ).json()
        items = page.get("relation_ids", page.get("items", page.get("changes", [])))
        return [str(i["relation_id"]) if isinstance(i, dict) else str(i) for i in items]

    added_ids, removed_ids = await asyncio.gather(ids("added"), ids("removed"))
    ctx = card_context(request)
    added, added_hidden = await _named(ctx, view, added_ids)
    removed, removed_hidden = await _named(ctx, view, removed_ids)
    return RefreshChanges(
        **Refresh.model_validate(refresh).model_dump(),
        added=added,
        removed=removed,
        not_shown=added_hidden + removed_hidden,
    )


@router.post("/{selection_id}/refresh", responses=ANSWERS)
async def refresh_selection(
    view_id: uuid.UUID,
    selection_id: uuid.UUID,
    user: Manager,
    request: Request,
    session: SessionDep,
) -> RefreshChanges:
    """Refresh from the list now: who was added and who was removed (edit rights needed)."""
    view = await views.access(session, user, view_id)
    editable(view)
    await _row(session, view, selection_id)
    done = await request.app.state.services.selections.call(
        "POST", f"/selections/{selection_id}/refresh", actor=user.actor, timeout=60.0
    )
    return await _changes(request, view, selection_id, done.json())


@router.get("/{selection_id}/refreshes/{refresh_id}")
async def refresh_detail(
    view_id: uuid.UUID,
    selection_id: uuid.UUID,
    refresh_id: uuid.UUID,
    user: UserDep,
    request: Request,
    session: SessionDep,
) -> RefreshChanges:
    """Who one earlier refresh added and removed."""
    view = await views.access(session, user, view_id)
    await _row(session, view, selection_id)
    history = await request.app.state.services.selections.call(
        "GET", f"/selections/{selection_id}/refreshes"
    )
    found = next((r for r in history.json() if r["refresh_id"] == str(refresh_id)), None)
    if found is None:
        raise NotFound(f"refresh {refresh_id} does not exist")
    return await _changes(request, view, selection_id, found)


@router.get(
    "/{selection_id}/export",
    response_class=Response,
    responses={
        200: {
            "content": {
                "text/csv": {
                    "example": "relation_number;first_name;last_name;email\r\n"
                    "1042;Sanne;Bakker;sanne@bakker.example\r\n"
                }
            },
            "description": "the members as CSV",
        }
    },
)
async def export_selection(
    view_id: uuid.UUID,
    selection_id: uuid.UUID,
    user: UserDep,
    request: Request,
    session: SessionDep,
    fields: Annotated[
        str | None,
        Query(description="comma-separated columns (see export_fields); default all of them"),
    ] = None,
    language: Annotated[
        Literal["nl", "en"] | None,
        Query(description="headers as labels in this language; default the column names"),
    ] = None,
) -> Response:
    """The members as CSV with columns the view's form shows, rows of relations it shows."""
    view = await views.access(session, user, view_id)
    row = await _row(session, view, selection_id)
    allowed = export_fields(view)
    wanted = [f.strip() for f in fields.split(",") if f.strip()] if fields else allowed
    outside = [f for f in wanted if f not in allowed]
    if outside:
        raise InvalidInput.single(("query", "fields"), f"not exportable in this view: {outside}")
    columns = list(dict.fromkeys(["relation_id", *wanted]))
    answer = await request.app.state.services.selections.call(
        "GET",
        f"/selections/{selection_id}/export",
        params={"fields": ",".join(columns)},
        timeout=120.0,
    )
    ctx = card_context(request)
    text = await _only_shown(ctx, view, answer.text, keep_id="relation_id" in wanted)
    if language is not None:
        text = _labelled(text, await _export_labels(ctx, view, language))
    filename = "".join(c if c.isalnum() or c in "-_" else "-" for c in row["name"]) or "selection"
    return Response(
        content=text.encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
    )


async def _export_labels(ctx: CardContext, view: views.View, language: str) -> dict[str, str]:
    """Each export column's header in a language: the form's label of its field, else the
    column's own label (an address's parts), else its name."""
    form = await labels.form_labels(ctx, view.form)
    out = {name: texts[language] for name, texts in EXPORT_LABELS.items()}
    for column, source in EXPORT_SOURCES.items():
        if source == column and source in form:
            out[column] = getattr(form[source], language)
    for name, texts in form.items():
        if name.startswith("custom."):
            out[name] = getattr(texts, language)
    return out


def _labelled(text: str, headers: dict[str, str]) -> str:
    """The CSV with its header row renamed (the rows as they are)."""
    head, newline, rest = text.partition("\r\n")
    if not newline:
        return text
    names = next(csv.reader([head]))
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([headers.get(n, n) for n in names])
    return out.getvalue() + rest


async def _only_shown(ctx: CardContext, view: views.View, text: str, keep_id: bool) -> str:
    """The CSV's rows of relations the view shows (the first column is the relation id)."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return ""
    header, body = rows[0], rows[1:]
    shown: set[str] = set()
    for start in range(0, len(body), VISIBILITY_CHUNK):
        chunk = [uuid.UUID(r[0]) for r in body[start : start + VISIBILITY_CHUNK] if r]
        shown |= await visible_ids(ctx, view, chunk)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    skip = 0 if keep_id else 1
    writer.writerow(header[skip:])
    for r in body:
        if r and r[0] in shown:
            writer.writerow(r[skip:])
    return out.getvalue()


# --- settings, deletion and the refresh before a mailing ---------------------------------------


class SelectionChange(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"daily_at": "06:30"},
                {"name": "Newsletter January"},
                {"daily_refresh": False},
            ]
        },
    )

    name: str | None = Field(default=None, min_length=1, max_length=200)
    daily_refresh: bool | None = Field(default=None, description="refresh every day, or stop")
    daily_at: time | None = Field(
        default=None,
        description="refresh every day from this time (Europe/Amsterdam); giving one switches "
        "the daily refresh on, null: at the first round of the day",
    )


async def _service_version(request: Request, selection_id: uuid.UUID, given: int | None) -> int:
    """The version to change: the one the client named (If-Match), else the current one."""
    if given is not None:
        return given
    current = await request.app.state.services.selections.call("GET", f"/selections/{selection_id}")
    version: int = current.json()["version"]
    return version


@router.patch(
    "/{selection_id}",
    responses={
        **ANSWERS,
        409: {"description": "a daily refresh asked of a selection without a source"},
        412: {"description": "If-Match names an older version"},
    },
)
async def change_selection(
    view_id: uuid.UUID,
    selection_id: uuid.UUID,
    body: SelectionChange,
    user: Manager,
    request: Request,
    session: SessionDep,
    version: OptionalIfMatchDep,
) -> ViewSelection:
    """Rename a selection, or have it refreshed every day at a chosen time (optionally
    If-Match, with the selection's version)."""
    view = await views.access(session, user, view_id)
    editable(view)
    row = await _row(session, view, selection_id)
    patch = body.model_dump(exclude_unset=True)
    if "name" in patch:
        patch["name"] = f"{view.name}: {body.name}"
        await session.execute(
            view_selections.update()
            .where(view_selections.c.selection_id == selection_id)
            .values(name=body.name)
        )
    changed = await request.app.state.services.selections.call(
        "PATCH",
        f"/selections/{selection_id}",
        json=patch,
        actor=user.actor,
        if_match=await _service_version(request, selection_id, version),
    )
    shown = {**row, "name": body.name or row["name"]}
    return ViewSelection.model_validate(
        _out(shown, changed.json(), await _list_names(session, view))
    )


@router.delete("/{selection_id}", status_code=status.HTTP_204_NO_CONTENT, responses=ANSWERS)
async def delete_selection(
    view_id: uuid.UUID,
    selection_id: uuid.UUID,
    user: Manager,
    request: Request,
    session: SessionDep,
    version: OptionalIfMatchDep,
) -> None:
    """Delete a selection with its members and refresh history."""
    view = await views.access(session, user, view_id)
    editable(view)
    await _row(session, view, selection_id)
    try:
        await request.app.state.services.selections.call(
            "DELETE",
            f"/selections/{selection_id}",
            actor=user.actor,
            if_match=await _service_version(request, selection_id, version),
        )
    except Upstream as refused:
        if refused.status_code != 404:  # gone there already: only our record is left
            raise
    await session.execute(
        view_selections.delete().where(view_selections.c.selection_id == selection_id)
    )


class MailingRefresh(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "refresh": {
                        "refresh_id": "5b1f3c1e-3f7e-4c55-9a53-3c4b1a0c9e01",
                        "at": "2026-12-07T06:30:00Z",
                        "trigger": "mailing",
                        "source_count": 2,
                        "added_count": 1,
                        "removed_count": 1,
                        "added": [
                            {
                                "relation_id": "0b0e4b4e-8c8a-4c53-9f0e-6d1f0c7d1a11",
                                "display_name": "Ida Bakker",
                            }
                        ],
                        "removed": [],
                        "not_shown": 1,
                    },
                    "member_count": 2,
                    "relations": [
                        {
                            "relation_id": "0b0e4b4e-8c8a-4c53-9f0e-6d1f0c7d1a11",
                            "display_name": "Ida Bakker",
                        }
                    ],
                    "next": None,
                }
            ]
        }
    )

    refresh: RefreshChanges | None = Field(description="null for a selection made by hand")
    member_count: int
    relations: list[NamedRelation] = Field(
        description="the fresh members, a first page (page on with GET members)"
    )
    next: str | None = None


@router.post("/{selection_id}/mailing-refresh", responses=ANSWERS)
async def mailing_refresh(
    view_id: uuid.UUID,
    selection_id: uuid.UUID,
    user: Manager,
    request: Request,
    session: SessionDep,
    limit: Limit = 200,
) -> MailingRefresh:
    """For a mailing module, just before it sends (a user or an API key with the write
    scope): refresh from the list, so whoever left it since is out, and answer with the fresh
    members and who was added and removed."""
    view = await views.access(session, user, view_id)
    editable(view)
    await _row(session, view, selection_id)
    answer = (
        await request.app.state.services.selections.call(
            "POST",
            f"/selections/{selection_id}/mailing",
            params={"limit": limit},
            actor=user.actor,
            timeout=60.0,
        )
    ).json()
    done = answer.get("refresh")
    changes = await _changes(request, view, selection_id, done) if done else None
    named, _ = await _named(
        card_context(request), view, [m["relation_id"] for m in answer["members"]]
    )
    return MailingRefresh(
        refresh=changes,
        member_count=answer["member_count"],
        relations=named,
        next=answer.get("next_cursor"),
    )
